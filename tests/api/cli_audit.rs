//! What an operator changes through the CLI enters the same chained audit trail as requests:
//! origin `cli`, the OS user, the command and its targets, never a secret.

use cofre::domain::authorization::Resource;
use serde_json::{Value, json};

use crate::cli::{cofre, cofre_at, cofre_outcome};
use crate::helpers::{Backend, TestApp, canary, fresh_postgres_schema};
use crate::on_both_stores;

on_both_stores!(operator_commands_are_audited_with_the_os_user_and_no_secret);

/// The login name of this process's user, as `id -un` reads it from the user database.
fn os_user() -> String {
    let out = std::process::Command::new("id").arg("-un").output().expect("id runs");
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

/// The CLI's records in `tail` (JSON lines), their detail parsed.
fn cli_records(tail: &str) -> Vec<(Value, Value)> {
    tail.lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json line"))
        .filter_map(|r| {
            let detail: Value = serde_json::from_str(r["detail"].as_str()?).ok()?;
            (detail["origin"] == "cli").then_some((r, detail))
        })
        .collect()
}

fn write_key(path: &std::path::Path, hex: &str) {
    std::fs::write(path, format!("{hex}\n")).expect("write key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
}

async fn operator_commands_are_audited_with_the_os_user_and_no_secret(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    let owner = app.client(&[Resource::Info]).await;
    app.post_json(&owner, "/iso/pam/info", json!({"identifier": "for-auditor", "content": "audited"})).await;
    let old_key = std::fs::read_to_string(app.config.master_key_path()).expect("key");

    let made: Value = serde_json::from_str(
        cofre(&app, &["app", "create", "--name", "auditor", "--resource", "info", "--json"]).trim(),
    )
    .expect("json");
    let app_id = made["application_id"].as_str().expect("id").to_owned();
    let password = format!("pw-{}", canary());
    let (ok, _, err) = cofre_outcome(&app, &["user", "create", "--username", "dora", "--password-stdin"], &password);
    assert!(ok, "{err}");
    cofre(&app, &["app", "link", &app_id, "--info", "for-auditor"]);
    let keys = tempfile::tempdir().expect("tempdir");
    let new_key_file = keys.path().join("next.key");
    let new_key = "7c".repeat(32);
    write_key(&new_key_file, &new_key);
    cofre(&app, &["key", "rotate", "--new-key-file", &new_key_file.display().to_string()]);
    let backup = app.data_dir.path().join("audited.cofre-backup");
    cofre(&app, &["backup", &backup.display().to_string()]);
    let (ok, _, _) = cofre_outcome(&app, &["app", "disable", "999999"], "");
    assert!(!ok, "no such application");
    cofre(&app, &["app", "list"]);

    let tail = cofre(&app, &["audit", "tail", "-n", "200", "--json"]);
    let records = cli_records(&tail);
    let commands: Vec<&str> = records.iter().map(|(_, d)| d["command"].as_str().unwrap_or_default()).collect();
    assert_eq!(
        commands,
        ["app create", "user create", "app link", "key rotate", "backup", "app disable"],
        "one record per state-changing command, none for reads: {tail}"
    );
    let user = os_user();
    for (record, detail) in &records {
        assert_eq!(detail["os_user"], user.as_str(), "{record}");
        assert_eq!(record["method"], "CLI", "{record}");
    }
    let outcomes: Vec<&str> = records.iter().map(|(r, _)| r["outcome"].as_str().unwrap_or_default()).collect();
    assert_eq!(outcomes, ["success", "success", "success", "success", "success", "error"]);
    assert_eq!(records[0].1["targets"]["name"], "auditor");
    assert_eq!(records[0].1["created"]["application_id"].to_string(), app_id, "the id of what it made");
    assert!(records[1].1["created"]["user_id"].is_i64(), "{}", records[1].0);
    assert_eq!(records[1].1["targets"]["username"], "dora");
    assert_eq!(records[2].1["targets"]["application_id"].to_string(), app_id);
    assert_eq!(records[2].1["targets"]["info"], json!(["for-auditor"]));
    assert_eq!(records[5].1["targets"]["application_id"], 999_999);
    let secret = made["client_secret"].as_str().expect("secret");
    for (what, value) in [("client secret", secret), ("password", &password), ("new key", &new_key)] {
        assert!(!tail.contains(value), "the {what} reached the audit trail");
    }
    assert!(!tail.contains(old_key.trim()), "the old key reached the audit trail");
    let (ok, out, err) = cofre_outcome(&app, &["audit", "verify"], "");
    assert!(ok && out.starts_with("audit trail intact: "), "{out}{err}");

    // A restore is audited into the restored chain, after the restore's own checks.
    let target = tempfile::tempdir().expect("tempdir");
    let target_url = match &backend {
        Backend::Sqlite => String::new(),
        Backend::Postgres(url) => fresh_postgres_schema(url).await,
    };
    write_key(&target.path().join("master.key"), &new_key);
    let (ok, out, err) = cofre_at(target.path(), &target_url, &["restore", &backup.display().to_string()], "");
    assert!(ok && out.starts_with("restored: "), "{out}{err}");
    let (ok, tail, err) = cofre_at(target.path(), &target_url, &["audit", "tail", "-n", "200", "--json"], "");
    assert!(ok, "{err}");
    let restored = cli_records(&tail);
    let last = restored.last().expect("records");
    assert_eq!(last.1["command"], "restore", "{tail}");
    assert_eq!(last.1["os_user"], user.as_str());
    let (ok, out, err) = cofre_at(target.path(), &target_url, &["audit", "verify"], "");
    assert!(ok && out.starts_with("audit trail intact: "), "{out}{err}");
}
