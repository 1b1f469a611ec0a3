//! Publication (§13.2 `cert/perfil`, `cert/publicar`, issue 17): a real command installs the
//! certificate per device; failures and hangs are recorded and leave the old certificate in
//! place; an automatic renewal republishes where the certificate was installed.

use std::path::{Path, PathBuf};

use cofre::domain::authorization::Resource;
use cofre::service::certificates::renewal::renew_due;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::certificates::{admin, authorities, request, request_body, sign};
use crate::helpers::{Backend, Client, Reply, TestApp};
use crate::on_both_stores;
use crate::pam::device;

on_both_stores!(
    publishing_installs_the_certificate_and_renewal_republishes_it,
    publishing_is_refused_where_it_should_be,
    publishing_never_reaches_a_device_target_networks_refuses,
);

const DEPLOY_PASSWORD: &str = "deploy-password-on-the-device";

/// Installs stdin as `<out>/<hostname>.pem`, unless `<hostname>.break` (exit 3) or
/// `<hostname>.hang` (sleeps past the timeout) is there; records its environment and argv.
const SCRIPT: &str = r#"out="$1"
host="$COFRE_DEVICE_HOSTNAME"
[ -e "$out/$host.break" ] && exit 3
[ -e "$out/$host.hang" ] && sleep 30
cat > "$out/$host.tmp" && mv "$out/$host.tmp" "$out/$host.pem"
env | sort > "$out/$host.env"
echo "$@" > "$out/$host.argv"
"#;

struct Publishing {
    app: TestApp,
    client: Client,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

async fn publishing_app(backend: Backend) -> Publishing {
    publishing_app_with(backend, |_| {}).await
}

async fn publishing_app_with(backend: Backend, tweak: impl FnOnce(&mut cofre::config::Config)) -> Publishing {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("devices");
    std::fs::create_dir(&out).expect("out");
    let script = dir.path().join("publish.sh");
    std::fs::write(&script, SCRIPT).expect("script");
    let command = format!("/bin/sh {} {}", script.display(), out.display());
    let app = TestApp::spawn_with(backend, |c| {
        c.certificate_publish_command = command;
        c.certificate_publish_timeout = 2;
        tweak(c);
    })
    .await;
    let client = app.client(&[Resource::Certificates, Resource::Pam]).await;
    Publishing { app, client, out, _dir: dir }
}

async fn deploy_credential(app: &TestApp, client: &Client, hostname: &str) -> String {
    let body = json!({"username": "deploy", "hostname": hostname, "ip": "10.0.0.5", "content": DEPLOY_PASSWORD});
    let reply = app.post_json(client, "/iso/pam/credential", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["credential"]["id"].as_str().expect("id").to_owned()
}

async fn profile(app: &TestApp, client: &Client, kind: &str, body: Value) -> Reply {
    app.post_json(client, &format!("/iso/cert/perfil/{kind}"), body).await
}

async fn publish(app: &TestApp, client: &Client, body: Value) -> Reply {
    app.post_json(client, "/iso/cert/publicar", body).await
}

fn installed(out: &Path, host: &str) -> String {
    std::fs::read_to_string(out.join(format!("{host}.pem"))).unwrap_or_default()
}

fn statuses(reply: &Reply) -> Vec<(String, String)> {
    reply.body["publications"]
        .as_array()
        .expect("publications")
        .iter()
        .map(|p| (p["hostname"].as_str().expect("host").to_owned(), p["status"].as_str().expect("status").to_owned()))
        .collect()
}

fn pair(host: &str, status: &str) -> (String, String) {
    (host.to_owned(), status.to_owned())
}

/// A certificate signed by the issuing CA, renewed automatically 10 days before its 40 end.
async fn shop_certificate(app: &TestApp, client: &Client) -> Value {
    let admin = admin(app).await;
    let (_, issuing) = authorities(app, &admin).await;
    let made = request(app, client, "shop", request_body("shop.example.com", json!({"validity": 40, "san": []}))).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let query = format!("self_signed=0&ca={}&reason=x&auto_renew=1&renewal_days=10", issuing.replace(' ', "%20"));
    let signed = sign(app, client, "shop", &query).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    signed.body["certificate"].clone()
}

async fn publishing_installs_the_certificate_and_renewal_republishes_it(backend: Backend) {
    let Publishing { app, mut client, out, _dir } = publishing_app(backend).await;
    for host in ["web01", "web02", "fail01", "hang01"] {
        device(&app, &client, host).await;
    }
    let credential = deploy_credential(&app, &client, "web01").await;
    let cert = shop_certificate(&app, &client).await;
    let cert_id = cert["id"].as_str().expect("id").to_owned();

    // Simultaneous saves of one profile: one registers it, the rest update it; one row.
    let body =
        json!({"nome_perfil": "storefront", "codigo_credencial": credential, "dispositivos": ["web01", "web02"]});
    let saves = futures_util::future::join_all((0..6).map(|_| profile(&app, &client, "apache", body.clone()))).await;
    let created = saves.iter().filter(|r| r.status == StatusCode::CREATED).count();
    assert!(saves.iter().all(|r| r.status.is_success()), "{:?}", saves.iter().map(|r| &r.body).collect::<Vec<_>>());
    assert_eq!(created, 1);
    let storefront = saves[0].body["profile"]["id"].as_str().expect("id").to_owned();
    assert!(saves.iter().all(|r| r.body["profile"]["id"] == storefront.as_str()));
    let pool = app.state.core.store.pool();
    let rows = sqlx::query("SELECT COUNT(*) AS n FROM certificate_publish_profiles").fetch_one(pool).await.expect("n");
    assert_eq!(sqlx::Row::get::<i64, _>(&rows, "n"), 1);

    let done = publish(
        &app,
        &client,
        json!({"codigo_certificado": cert_id, "codigo_perfil_publicacao": storefront, "motivo": "go-live"}),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(statuses(&done), [pair("web01", "published"), pair("web02", "published")]);
    let pem = installed(&out, "web01");
    assert!(pem.starts_with(cert["certificate"].as_str().expect("pem")), "{pem}");
    assert!(pem.contains(cert["chain"].as_str().expect("chain")) && pem.contains("-----BEGIN PRIVATE KEY-----"));
    let env = std::fs::read_to_string(out.join("web01.env")).expect("env");
    for line in [
        "COFRE_PROFILE_TYPE=apache".to_owned(),
        "COFRE_DEVICE_HOSTNAME=web01".to_owned(),
        "COFRE_CREDENTIAL_USERNAME=deploy".to_owned(),
        format!("COFRE_CREDENTIAL_PASSWORD={DEPLOY_PASSWORD}"),
        format!("COFRE_CERTIFICATE_SERIAL={}", cert["serial"].as_str().expect("serial")),
    ] {
        assert!(env.lines().any(|l| l == line), "{line} in {env}");
    }
    // cofre's own environment (cargo's variables here; a database URL in production) stays behind.
    let names: Vec<&str> = env.lines().filter_map(|l| l.split_once('=')).map(|(name, _)| name).collect();
    let expected = ["COFRE_", "PATH", "HOME", "LANG", "TZ", "TMPDIR", "PWD", "SHLVL", "_"];
    for name in &names {
        assert!(
            expected.iter().any(|e| name == e || (e.ends_with('_') && name.starts_with(e))),
            "{name} leaked into {env}"
        );
    }
    let argv = std::fs::read_to_string(out.join("web01.argv")).expect("argv");
    assert_eq!(argv.trim(), out.display().to_string(), "nothing secret on the command line");

    // A command that fails and one that hangs are recorded as failed, within the timeout.
    let edge = profile(
        &app,
        &client,
        "iis",
        json!({"nome_perfil": "edge", "codigo_credencial": credential, "dispositivos": ["fail01", "hang01"]}),
    )
    .await;
    assert_eq!(edge.status, StatusCode::CREATED, "{}", edge.body);
    std::fs::write(out.join("fail01.break"), "").expect("break");
    std::fs::write(out.join("hang01.hang"), "").expect("hang");
    let edge_id = edge.body["profile"]["id"].as_str().expect("id");
    let failed = publish(
        &app,
        &client,
        json!({"codigo_certificado": cert_id, "codigo_perfil_publicacao": edge_id, "motivo": "edge"}),
    )
    .await;
    assert_eq!(statuses(&failed), [pair("fail01", "failed"), pair("hang01", "failed")]);
    assert!(failed.body["publications"][0]["erro"].as_str().expect("error").contains("failed"), "{}", failed.body);
    assert!(
        failed.body["publications"][1]["erro"].as_str().expect("error").contains("timed out after 2 s"),
        "{}",
        failed.body
    );

    // Renewal republishes where it is installed; web02 now fails, and keeps the old certificate.
    std::fs::write(out.join("web02.break"), "").expect("break");
    app.clock.advance_secs(31 * 86_400);
    client.token = app.token_for(&client.app).await;
    let renewals = renew_due(&app.state.core, &app.state.audit).await.expect("renewal");
    assert_eq!(renewals.len(), 1);
    let new_id = renewals[0].new.to_string();
    let new = app.call(&client, Method::GET, &format!("/iso/certificate/list/{new_id}")).await.body["certificates"][0]
        .clone();
    assert!(installed(&out, "web01").starts_with(new["certificate"].as_str().expect("pem")), "web01 has the new one");
    assert!(
        installed(&out, "web02").starts_with(cert["certificate"].as_str().expect("pem")),
        "web02 keeps the old one"
    );
    assert_eq!(installed(&out, "fail01"), "", "never installed there, so not republished");
    let listed = app.call(&client, Method::GET, &format!("/iso/cert/publicar/listar/{new_id}")).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(statuses(&listed), [pair("web01", "published"), pair("web02", "failed")]);
    assert_eq!(listed.body["publications"][0]["motivo"], format!("automatic renewal of certificate {cert_id}"));
    let old = app.call(&client, Method::GET, &format!("/iso/certificate/publish/list/{cert_id}")).await;
    assert_eq!(old.body["publications"].as_array().expect("list").len(), 4);

    let audit = format!("{:?}", app.state.core.recent_audit(1000).await.expect("audit"));
    assert!(!audit.contains(DEPLOY_PASSWORD) && !audit.contains("BEGIN PRIVATE KEY"), "no secret in the audit trail");
}

async fn publishing_is_refused_where_it_should_be(backend: Backend) {
    let Publishing { app, client, out: _, _dir } = publishing_app(backend.clone()).await;
    device(&app, &client, "web01").await;
    device(&app, &client, "web09").await;
    let credential = deploy_credential(&app, &client, "web01").await;
    let cert = shop_certificate(&app, &client).await;
    let cert_id = cert["id"].as_str().expect("id");
    let saved = profile(
        &app,
        &client,
        "bigip",
        json!({"nome_perfil": "lb", "codigo_credencial": credential, "dispositivos": ["web01"]}),
    )
    .await;
    assert_eq!(saved.status, StatusCode::CREATED, "{}", saved.body);
    let lb = saved.body["profile"]["id"].as_str().expect("id").to_owned();

    for (kind, body, status, expected) in [
        ("nginx", json!({"nome_perfil": "x"}), StatusCode::NOT_FOUND, "apache, iis, bigip or was"),
        (
            "apache",
            json!({"codigo_credencial": credential, "dispositivos": ["web01"]}),
            StatusCode::BAD_REQUEST,
            "'nome_perfil'",
        ),
        (
            "apache",
            json!({"nome_perfil": "a", "codigo_credencial": "999", "dispositivos": ["web01"]}),
            StatusCode::BAD_REQUEST,
            "Credential 999",
        ),
        (
            "apache",
            json!({"nome_perfil": "a", "codigo_credencial": credential, "dispositivos": ["nowhere"]}),
            StatusCode::BAD_REQUEST,
            "\"nowhere\"",
        ),
        (
            "apache",
            json!({"nome_perfil": "a", "codigo_credencial": credential}),
            StatusCode::BAD_REQUEST,
            "'dispositivos'",
        ),
        (
            "was",
            json!({"nome_perfil": "w", "codigo_credencial": credential, "dispositivos": ["web01"]}),
            StatusCode::BAD_REQUEST,
            "key_db_path",
        ),
    ] {
        let reply = profile(&app, &client, kind, body.clone()).await;
        assert_eq!(reply.status, status, "{kind} {body}: {}", reply.body);
        assert!(reply.body["response"]["message"].as_str().unwrap_or_default().contains(expected), "{}", reply.body);
    }
    let was = json!({"nome_perfil": "w", "codigo_credencial": credential, "dispositivos": ["web01"],
                     "key_db_path": "/opt/IBM/key.kdb", "key_db_password": "kdb-secret", "label": "shop"});
    let was = profile(&app, &client, "was", was).await;
    assert_eq!(was.status, StatusCode::CREATED, "{}", was.body);
    assert_eq!(was.body["profile"]["label"], "shop");
    assert!(!was.body.to_string().contains("kdb-secret"));

    for (body, status, expected) in [
        (json!({"codigo_perfil_publicacao": lb, "motivo": "x"}), StatusCode::BAD_REQUEST, "'codigo_certificado'"),
        (json!({"codigo_certificado": cert_id, "codigo_perfil_publicacao": lb}), StatusCode::BAD_REQUEST, "'motivo'"),
        (
            json!({"codigo_certificado": cert_id, "codigo_perfil_publicacao": "999", "motivo": "x"}),
            StatusCode::NOT_FOUND,
            "profile",
        ),
        (
            json!({"codigo_certificado": "999", "codigo_perfil_publicacao": lb, "motivo": "x"}),
            StatusCode::NOT_FOUND,
            "Certificate",
        ),
        (
            json!({"codigo_certificado": cert_id, "codigo_perfil_publicacao": lb, "motivo": "x", "dispositivos": ["web09"]}),
            StatusCode::BAD_REQUEST,
            "not in the publishing profile",
        ),
    ] {
        let reply = publish(&app, &client, body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert!(reply.body["response"]["message"].as_str().unwrap_or_default().contains(expected), "{}", reply.body);
    }

    // Another application: not its certificate, profile or credential.
    let other = app.client(&[Resource::Certificates, Resource::Pam]).await;
    let theirs =
        publish(&app, &other, json!({"codigo_certificado": cert_id, "codigo_perfil_publicacao": lb, "motivo": "x"}))
            .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.body);
    let borrowed = profile(
        &app,
        &other,
        "apache",
        json!({"nome_perfil": "mine", "codigo_credencial": credential, "dispositivos": ["web01"]}),
    )
    .await;
    assert_eq!(borrowed.status, StatusCode::BAD_REQUEST, "another application's credential: {}", borrowed.body);
    assert_eq!(
        app.call(&other, Method::GET, &format!("/iso/cert/publicar/listar/{cert_id}")).await.status,
        StatusCode::NOT_FOUND
    );

    // Read-only: may list, not publish or make profiles.
    let reader_app = app.create_app(&[Resource::Certificates, Resource::Pam], true, &["*"]).await;
    let reader = Client { token: app.token_for(&reader_app).await, app: reader_app };
    for reply in [
        publish(&app, &reader, json!({"codigo_certificado": cert_id, "codigo_perfil_publicacao": lb, "motivo": "x"}))
            .await,
        profile(
            &app,
            &reader,
            "apache",
            json!({"nome_perfil": "r", "codigo_credencial": credential, "dispositivos": ["web01"]}),
        )
        .await,
    ] {
        assert_eq!(reply.body["exception"]["code"], 1039, "read-only: {}", reply.body);
    }
    let pool = app.state.core.store.pool();
    let rows = sqlx::query("SELECT COUNT(*) AS n FROM certificate_publications").fetch_one(pool).await.expect("n");
    assert_eq!(sqlx::Row::get::<i64, _>(&rows, "n"), 0, "nothing was published by the refused calls");

    // A server without a publish command refuses to publish, and says why.
    let plain = TestApp::spawn(backend).await;
    let client = plain.client(&[Resource::Certificates, Resource::Pam]).await;
    device(&plain, &client, "web01").await;
    let credential = deploy_credential(&plain, &client, "web01").await;
    let cert = shop_certificate(&plain, &client).await;
    let saved = profile(
        &plain,
        &client,
        "apache",
        json!({"nome_perfil": "p", "codigo_credencial": credential, "dispositivos": ["web01"]}),
    )
    .await;
    let body = json!({"codigo_certificado": cert["id"], "codigo_perfil_publicacao": saved.body["profile"]["id"], "motivo": "x"});
    let refused = publish(&plain, &client, body).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body["response"]["message"].as_str().expect("message").contains("certificate_publish_command"));
}

/// Under the default `target_networks`, a device at the cloud's link-local metadata address is
/// never published to: the publisher does not run, and the outcome says why (issue 31, item 5).
async fn publishing_never_reaches_a_device_target_networks_refuses(backend: Backend) {
    let Publishing { app, client, out, _dir } = publishing_app_with(backend, |c| c.target_networks = Vec::new()).await;
    let device = json!({"hostname": "meta01", "ip": "169.254.169.254", "model": "Linux", "type": "Server",
                        "vendor": "Debian", "site": "DC1"});
    assert_eq!(app.post_json(&client, "/api/pam/device", device).await.status, StatusCode::CREATED);
    let body = json!({"username": "deploy", "hostname": "meta01", "ip": "169.254.169.254", "content": DEPLOY_PASSWORD});
    let credential = app.post_json(&client, "/iso/pam/credential", body).await;
    let credential = credential.body["credential"]["id"].as_str().expect("id").to_owned();
    let cert = shop_certificate(&app, &client).await;
    let body = json!({"nome_perfil": "metadata", "codigo_credencial": credential, "dispositivos": ["meta01"]});
    let saved = profile(&app, &client, "apache", body).await;
    assert_eq!(saved.status, StatusCode::CREATED, "{}", saved.body);
    let profile_id = saved.body["profile"]["id"].as_str().expect("id").to_owned();
    let body = json!({"codigo_certificado": cert["id"], "codigo_perfil_publicacao": profile_id, "motivo": "x"});
    let done = publish(&app, &client, body).await;
    assert_eq!(statuses(&done), [pair("meta01", "failed")], "{}", done.body);
    let error = done.body["publications"][0]["erro"].as_str().expect("error");
    assert!(error.contains("not in target_networks"), "{error}");
    assert!(!out.join("meta01.env").exists(), "the publisher ran");
}
