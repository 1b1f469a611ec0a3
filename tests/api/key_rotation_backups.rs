//! A master key rotation keeps the retired key, so backups taken before it still restore, and
//! the command says so instead of calling the old key unneeded.

use reqwest::{Method, StatusCode};
use serde_json::json;

use cofre::domain::authorization::Resource;

use crate::cli::cofre_outcome_with_env;
use crate::helpers::{Backend, Client, TestApp, fresh_postgres_schema};
use crate::on_both_stores;

on_both_stores!(a_backup_from_before_a_key_rotation_restores_with_the_kept_key);

fn write_key(path: &std::path::Path, hex: &str) {
    std::fs::write(path, format!("{hex}\n")).expect("key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
}

/// An empty store of `backend`'s kind in `dir`: its database URL ("" for SQLite: `dir`'s own).
async fn empty_store(backend: &Backend) -> String {
    match backend {
        Backend::Sqlite => String::new(),
        Backend::Postgres(url) => fresh_postgres_schema(url).await,
    }
}

async fn a_backup_from_before_a_key_rotation_restores_with_the_kept_key(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    let owner = app.client(&[Resource::Info]).await;
    let body = json!({"identifier": "from-before", "name": "from-before", "content": "secret from before"});
    let created = app.post_json(&owner, "/iso/pam/info", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let key_file = app.config.master_key_path();
    let old_key = std::fs::read_to_string(&key_file).expect("old key");
    let old_id = format!("{:08x}", app.state.core.master().id());

    let backup = app.data_dir.path().join("before-rotation.cofre-backup");
    let backup_flag = backup.display().to_string();
    let (ok, out, err) = cofre_outcome_with_env(&app, &["backup", &backup_flag], "", &[]);
    assert!(ok && out.contains(&format!("it needs master key {old_id} to restore")), "{out}{err}");

    let keys = tempfile::tempdir().expect("dir");
    let new_key = keys.path().join("new.key");
    write_key(&new_key, &"d4".repeat(32));
    let (ok, rotated, err) =
        cofre_outcome_with_env(&app, &["key", "rotate", "--new-key-file", &new_key.display().to_string()], "", &[]);
    assert!(ok, "{err}");

    // Restored into an empty store that runs with the new key: the kept key opens the backup.
    let key_flag = key_file.display().to_string();
    let target = tempfile::tempdir().expect("dir");
    let url = empty_store(&backend).await;
    let target_env = [
        ("COFRE_DATA_DIR", target.path().to_str().expect("utf-8")),
        ("COFRE_DATABASE_URL", url.as_str()),
        ("COFRE_MASTER_KEY_FILE", key_flag.as_str()),
    ];
    let (ok, restored, err) = cofre_outcome_with_env(&app, &["restore", &backup_flag], "", &target_env);
    assert!(ok, "the backup from before the rotation restores: {err}");
    assert!(restored.contains(&format!("re-wrapped from master key {old_id}")), "{restored}");

    // The command says where the old key is, and that earlier backups need it.
    let retired = std::path::PathBuf::from(format!("{}.retired-{old_id}", key_file.display()));
    assert!(!rotated.contains("no longer needed"), "{rotated}");
    assert!(
        rotated.contains(&format!("the old key {old_id} is kept at {}", retired.display()))
            && rotated.contains("backups taken before this rotation need it"),
        "{rotated}"
    );
    assert_eq!(std::fs::read_to_string(&retired).expect("kept"), old_key);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&retired).expect("kept").permissions().mode() & 0o777, 0o600);
    }

    // The restored store serves the secret under the new key.
    let copy = TestApp::spawn_with(backend.clone(), |c| {
        c.data_dir = target.path().to_path_buf();
        c.database_url = url.clone();
        c.master_key_file = Some(key_file.clone());
    })
    .await;
    let owner = Client { token: copy.token_for(&owner.app).await, app: owner.app };
    let read = copy.call(&owner, Method::GET, "/iso/pam/info/from-before").await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["info"]["content"], "secret from before");

    // With the kept key moved elsewhere, `--key-file` names it; without it the refusal says how.
    let elsewhere = keys.path().join("old.key");
    std::fs::rename(&retired, &elsewhere).expect("moved");
    let again = |url: &str, extra: &[&str]| {
        let target = tempfile::tempdir().expect("dir");
        let env = [
            ("COFRE_DATA_DIR", target.path().to_str().expect("utf-8").to_owned()),
            ("COFRE_DATABASE_URL", url.to_owned()),
            ("COFRE_MASTER_KEY_FILE", key_flag.clone()),
        ];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut args = vec!["restore", backup_flag.as_str()];
        args.extend_from_slice(extra);
        cofre_outcome_with_env(&app, &args, "", &env)
    };
    let (ok, _, err) = again(&empty_store(&backend).await, &[]);
    assert!(
        !ok && err.contains(&format!("this backup needs master key {old_id}")) && err.contains("--key-file"),
        "{err}"
    );
    let elsewhere_flag = elsewhere.display().to_string();
    let (ok, out, err) = again(&empty_store(&backend).await, &["--key-file", &elsewhere_flag]);
    assert!(ok && out.contains(&format!("re-wrapped from master key {old_id}")), "{out}{err}");
    copy.stop();
}
