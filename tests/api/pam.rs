//! PAM Core through HTTP (§3, §4): devices, the credential upsert matrix, custody, enable and
//! disable, visibility, the legacy query, and bad input.

use cofre::domain::authorization::{Access, ItemKind, Resource};
use cofre::service::admin::apps::set_link;
use cofre::service::pam::devices::create_domain;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Client, TestApp, error_envelope, success_block};
use crate::on_both_stores;

on_both_stores!(
    devices_upsert_by_hostname_and_disabling_suspends_credentials,
    credential_upsert_matrix_and_errors,
    custody_enable_disable_and_legacy_query,
    items_not_created_or_linked_are_refused,
);

pub async fn device(app: &TestApp, client: &Client, hostname: &str) -> Value {
    let reply = app
        .post_json(
            client,
            "/api/pam/device",
            json!({"hostname": hostname, "ip": "10.0.0.5", "model": "Linux", "type": "Server", "vendor": "Debian",
                   "site": "DC1", "connectivities": "SSH:22,HTTPS:443"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["device"].clone()
}

async fn devices_upsert_by_hostname_and_disabling_suspends_credentials(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    create_domain(&app.state.core, "corp.local").await.expect("domain");
    let created = device(&app, &client, "web01").await;
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["type"], "Server");

    // Upsert by hostname updates, and the required fields are checked in the contract's order.
    let updated = app
        .post_json(&client, "/iso/pam/device", json!({"hostname": "web01", "ip": "10.0.0.6", "model": "Linux", "type": "VM",
                                                       "vendor": "Debian", "site": "DC2", "device_domain": "corp.local"}))
        .await;
    assert_eq!(updated.body["device"]["id"], id.as_str());
    assert_eq!(updated.body["device"]["site"], "DC2");
    assert_eq!(updated.body["tenant"], "cofre");
    let base = json!({"hostname": "h", "ip": "1.2.3.4", "model": "m", "type": "t", "vendor": "v", "site": "s"});
    for (field, code, what) in [
        ("ip", 1005, "IP"),
        ("hostname", 1004, "hostname"),
        ("model", 1020, "model"),
        ("type", 1022, "type"),
        ("vendor", 1021, "vendor"),
        ("site", 1019, "site"),
    ] {
        let mut body = base.clone();
        body.as_object_mut().expect("object").remove(field);
        let reply = app.post_json(&client, "/iso/pam/device", body).await;
        let message = format!("{code}: The device's {what} was not informed");
        assert_eq!(reply.body, error_envelope(400, code, &message), "{field}");
    }
    let mut unknown_domain = base.clone();
    unknown_domain["device_domain"] = "nowhere".into();
    assert_eq!(app.post_json(&client, "/iso/pam/device", unknown_domain).await.body["exception"]["code"], 1029);

    let shown = app.call(&client, Method::GET, &format!("/iso/pam/device/{id}")).await;
    assert_eq!(shown.body["response"], success_block(200, &format!("Device {id}")));
    assert_eq!(shown.body["device"]["connectivities"], "SSH:22,HTTPS:443");
    let listed = app.call(&client, Method::GET, "/iso/pam/device").await;
    assert_eq!(listed.body["response"]["message"], "1 devices found");
    assert_eq!(app.call(&client, Method::GET, "/iso/pam/device/999").await.body["exception"]["code"], 1011);

    // Disabling suspends credentials; enabling leaves them suspended.
    let cred = app
        .post_json(
            &client,
            "/iso/pam/credential",
            json!({"username": "root", "hostname": "web01", "ip": "10.0.0.6", "content": "pw"}),
        )
        .await;
    assert_eq!(cred.status, StatusCode::CREATED);
    let off = app.send(app.authed(&client, Method::DELETE, "/iso/pam/device").form(&[("device", "web01")])).await;
    assert_eq!(off.body["response"]["message"], "Device successfully deactivated");
    assert_eq!(app.call(&client, Method::GET, "/iso/pam/credential/root@web01").await.body["exception"]["code"], 1008);
    let on = app.call(&client, Method::PUT, &format!("/iso/pam/device/{id}")).await;
    assert_eq!(on.body["response"]["message"], "Device successfully activated");
    assert_eq!(app.call(&client, Method::GET, "/iso/pam/credential/root@web01").await.body["exception"]["code"], 1008);
}

async fn credential_upsert_matrix_and_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "db01").await;
    let post = |body: Value| app.post_json(&client, "/api/pam/credential", body);

    // Neither identifier: created with a UUID, then found again by username on the device.
    let first = post(json!({"username": "app", "hostname": "db01", "ip": "10.0.0.5", "content": "one"})).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(first.body["response"], {
        let mut block = success_block(201, "Credential successfully registered!");
        block["changed"] = "true".into();
        block
    });
    assert_eq!(first.body["tenant"], "cofre");
    let id = first.body["credential"]["id"].as_str().expect("id").to_owned();
    let generated = first.body["credential"]["identifier"].as_str().expect("identifier").to_owned();
    assert_eq!(generated.len(), 36);
    let same = post(json!({"username": "app", "hostname": "db01", "ip": "10.0.0.5", "content": "one"})).await;
    assert_eq!(same.body["response"]["message"], "Credential updated successfully!");
    assert_eq!(same.body["response"]["changed"], "false");
    assert_eq!(same.status, StatusCode::CREATED);
    assert_eq!(same.body["credential"]["id"], id.as_str());

    // hostname+ip+username: found → update.
    let changed =
        post(json!({"username": "app", "hostname": "db01", "ip": "10.0.0.5", "content": "two", "tags": "a,b"})).await;
    assert_eq!(changed.body["response"]["changed"], "true");
    // An identifier: existing → update that one; new → create with that identifier.
    let by_identifier = post(
        json!({"identifier": generated, "username": "app", "hostname": "db01", "ip": "10.0.0.5", "content": "three"}),
    )
    .await;
    assert_eq!(by_identifier.body["credential"]["id"], id.as_str());
    let named = post(json!({"identifier": "db01-backup", "username": "backup", "hostname": "db01", "ip": "10.0.0.5", "content": "b"})).await;
    assert_eq!(named.body["credential"]["identifier"], "db01-backup");
    assert_ne!(named.body["credential"]["id"], id.as_str());

    // Username rules: the key must be present (1042); empty becomes "usr".
    let no_key = post(json!({"hostname": "db01", "ip": "10.0.0.5", "content": "x"})).await;
    assert_eq!(no_key.body, error_envelope(400, 1042, "1042: Invalid username"));
    let empty = post(json!({"username": "", "hostname": "db01", "ip": "10.0.0.5", "content": "x"})).await;
    let empty_id = empty.body["credential"]["id"].as_str().expect("id").to_owned();
    let read = app.call(&client, Method::GET, &format!("/iso/pam/credential/{empty_id}")).await;
    assert_eq!(read.body["credential"]["username"], "usr");

    // A username holding '@' is found by username@hostname, split at the last '@'.
    post(json!({"username": "svc@corp", "hostname": "db01", "ip": "10.0.0.5", "content": "at"})).await;
    let at = app.call(&client, Method::GET, "/iso/pam/credential/svc@corp@db01").await;
    assert_eq!(at.body["credential"]["password"], "at");

    // Errors of §3.3.
    for (body, code) in [
        (json!({"username": "u", "ip": "10.0.0.5"}), 1004),
        (json!({"username": "u", "hostname": "db01"}), 1005),
        (json!({"username": "u", "hostname": "nope", "ip": "1.1.1.1"}), 1011),
        (json!({"username": "u", "hostname": "db01", "ip": "1.1.1.1", "identifier": "bad id!"}), 1053),
        (json!({"username": "u", "hostname": "db01", "ip": "1.1.1.1", "domain": "unknown"}), 1029),
        (
            json!({"username": "u", "hostname": "db01", "ip": "1.1.1.1", "jit_settings": {"jit": true, "credential_creation_and_deletion": true}}),
            1046,
        ),
        (
            json!({"username": "u", "hostname": "db01", "ip": "1.1.1.1", "jit_settings": {"jit": true, "enable_disable_credential": "1",
                 "credential_enable_plugin": "p", "credential_disable_plugin": "p"}}),
            1047,
        ),
    ] {
        assert_eq!(post(body.clone()).await.body["exception"]["code"], code, "{body}");
    }
    let wrong_type =
        post(json!({"username": "u", "hostname": "db01", "ip": "1.1.1.1", "session_settings": "not json"})).await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert!(wrong_type.body["response"]["message"].as_str().expect("message").contains("session_settings"));
    let huge =
        post(json!({"username": "u", "hostname": "db01", "ip": "1.1.1.1", "additional": "x".repeat(70_000)})).await;
    assert_eq!(huge.status, StatusCode::BAD_REQUEST);

    // Settings are stored (the TOTP seed sealed) and returned.
    let settings = json!({"username": "totp", "hostname": "db01", "ip": "10.0.0.5", "content": "p",
        "execution_settings": {"automatic_change": true},
        "additional_settings": {"secret_key": "JBSWY3DPEHPK3PXP", "criticality": "High"}});
    post(settings).await;
    let read = app.call(&client, Method::GET, "/iso/pam/credential/totp@db01").await;
    assert_eq!(read.body["credential"]["additional_settings"]["secret_key"], "JBSWY3DPEHPK3PXP");
    assert_eq!(read.body["credential"]["execution_settings"]["automatic_change"], true);
    let bad_criticality = post(
        json!({"username": "c", "hostname": "db01", "ip": "1.1.1.1", "additional_settings": {"criticality": "Huge"}}),
    )
    .await;
    assert_eq!(bad_criticality.status, StatusCode::BAD_REQUEST);

    // A child inherits its parent's password.
    let child = post(json!({"username": "child", "hostname": "db01", "ip": "10.0.0.5", "parent_password": id})).await;
    let child_id = child.body["credential"]["id"].as_str().expect("id").to_owned();
    let read = app.call(&client, Method::GET, &format!("/iso/pam/credential/{child_id}")).await;
    assert_eq!(read.body["credential"]["password"], "three");

    // The list: every visible credential, with the documented fields.
    let listed = app.call(&client, Method::GET, "/iso/pam/credential").await;
    let items = listed.body["credentials"].as_array().expect("array");
    assert_eq!(listed.body["response"]["message"], format!("{} credentials found", items.len()));
    let item = items.iter().find(|i| i["id"] == id.as_str()).expect("listed");
    for key in [
        "id",
        "identifier",
        "username",
        "expiration",
        "change",
        "view",
        "hostname",
        "management_ip",
        "type",
        "type_code",
        "device_model",
        "device_type",
        "device_vendor",
        "automatic_change",
        "connectivity",
        "connectivity_code",
    ] {
        assert!(item.get(key).is_some(), "{key}");
    }
    assert_eq!(
        (item["type"].as_str(), item["connectivity"].as_str(), item["connectivity_code"].as_str()),
        (Some("Local User"), Some("SSH"), Some("22"))
    );
}

async fn custody_enable_disable_and_legacy_query(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "fw01").await;
    let created = app.post_json(&client, "/iso/pam/credential", json!({"identifier": "fw-admin", "username": "admin", "hostname": "fw01", "ip": "10.0.0.5", "content": "s3cr3t"})).await;
    let id = created.body["credential"]["id"].as_str().expect("id").to_owned();

    // Custody starts on read (by id, identifier or ?credential=), and only the holder releases it.
    let custody = format!("/iso/pam/credential/custody/{id}");
    let release = || app.send(app.authed(&client, Method::DELETE, &custody));
    assert_eq!(release().await.body["exception"]["code"], 1018, "not in custody yet");
    let read = app.call(&client, Method::GET, "/iso/pam/credential/fw-admin/?credential=fw-admin").await;
    assert_eq!(read.body["response"], success_block(200, &format!("Credential {id}")));
    assert_eq!(
        (read.body["credential"]["password"].as_str(), read.body["credential"]["content"].as_str()),
        (Some("s3cr3t"), Some("s3cr3t"))
    );
    assert_eq!(read.body["credential"]["tag"], Value::Null);
    let query = app.call(&client, Method::GET, "/iso/pam/credential?credential=fw-admin").await;
    assert_eq!(query.body["credential"]["id"], id.as_str());
    let released = release().await;
    assert_eq!(released.body["response"]["message"], format!("Credential custody {id} released"));
    assert_eq!(release().await.body["exception"]["code"], 1018);
    let listed = app.call(&client, Method::GET, "/iso/pam/credential").await;
    assert!(listed.body["credentials"][0]["view"].is_string(), "the view time is recorded");

    // Legacy query, Portuguese keys and legacy response order.
    let legacy = app.call(&client, Method::GET, &format!("/iso/coe/senha/{id}")).await;
    assert_eq!(legacy.body["senha"]["senha"], "s3cr3t");
    assert_eq!(legacy.body["senha"]["username"], "admin");
    let keys: Vec<&String> = legacy.body["response"].as_object().expect("object").keys().collect();
    assert_eq!(keys, ["status", "mensagem", "erro", "message", "error"]);
    let missing = app.call(&client, Method::GET, "/iso/coe/senha/9999").await;
    assert_eq!(
        missing.body,
        json!({"response": {"status": 400, "mensagem": "1007: Credential not found", "erro": true,
                                                   "message": "1007: Credential not found", "error": true}})
    );

    // Enable and disable, with their errors.
    assert_eq!(
        app.call(&client, Method::PUT, &format!("/iso/pam/credential/{id}")).await.body["exception"]["code"],
        1043
    );
    let off =
        app.send(app.authed(&client, Method::DELETE, "/iso/pam/credential").form(&[("identifier", "fw-admin")])).await;
    assert_eq!(off.body["response"]["message"], "Credential successfully deactivated");
    assert_eq!(
        app.call(&client, Method::DELETE, "/iso/pam/credential/admin@fw01").await.body["exception"]["code"],
        1008
    );
    assert_eq!(
        app.call(&client, Method::GET, &format!("/iso/pam/credential/{id}")).await.body["exception"]["code"],
        1008
    );
    assert_eq!(release().await.body["exception"]["code"], 1008);
    let on = app.call(&client, Method::PUT, &format!("/iso/pam/credential/{id}")).await;
    assert_eq!(on.body["response"]["message"], "Credential successfully activated");
    assert_eq!(
        app.call(&client, Method::GET, "/iso/pam/credential/9999").await.body,
        error_envelope(400, 1007, "1007: Credential not found")
    );
}

async fn items_not_created_or_linked_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.client(&[Resource::Pam]).await;
    let other = app.client(&[Resource::Pam]).await;
    let reader = app.create_app(&[Resource::Pam], true, &["*"]).await;
    let reader = Client { token: app.token_for(&reader).await, app: reader };
    device(&app, &owner, "app01").await;
    let created = app.post_json(&owner, "/iso/pam/credential", json!({"identifier": "app01-root", "username": "root", "hostname": "app01", "ip": "10.0.0.5", "content": "pw"})).await;
    let id = created.body["credential"]["id"].as_str().expect("id").to_owned();

    assert_eq!(
        app.call(&other, Method::GET, &format!("/iso/pam/credential/{id}")).await.body,
        error_envelope(400, 1009, "1009: No access to credential")
    );
    assert_eq!(
        app.call(&other, Method::DELETE, &format!("/iso/pam/credential/{id}")).await.body["exception"]["code"],
        1009
    );
    assert_eq!(app.call(&other, Method::GET, "/iso/pam/credential").await.body["credentials"], json!([]));
    assert_eq!(app.call(&other, Method::GET, "/iso/pam/device/app01").await.body["exception"]["code"], 1011);
    let upsert = app
        .post_json(
            &other,
            "/iso/pam/credential",
            json!({"identifier": "app01-root", "username": "root", "hostname": "app01", "ip": "10.0.0.5"}),
        )
        .await;
    assert_eq!(upsert.body["exception"]["code"], 1009, "the identifier names the owner's credential");
    // Their own credential on the owner's device is theirs (issue 13); the device stays the owner's.
    let own = app
        .post_json(
            &other,
            "/iso/pam/credential",
            json!({"username": "svc", "hostname": "app01", "ip": "10.0.0.5", "content": "theirs"}),
        )
        .await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.body);
    let own_id = own.body["credential"]["id"].as_str().expect("id").to_owned();
    assert_eq!(app.call(&other, Method::GET, &format!("/iso/pam/credential/{own_id}")).await.status, StatusCode::OK);
    assert_eq!(
        app.call(&owner, Method::GET, &format!("/iso/pam/credential/{own_id}")).await.body["exception"]["code"],
        1009
    );
    let device_change = app
        .post_json(
            &other,
            "/iso/pam/device",
            json!({"hostname": "app01", "ip": "10.9.9.9", "model": "m", "type": "t",
                                                    "vendor": "v", "site": "s"}),
        )
        .await;
    assert_eq!(device_change.body["exception"]["code"], 1011, "the device itself is not theirs");

    // Read-only authorizations get 1039 on every write.
    let body = json!({"username": "x", "hostname": "app01", "ip": "10.0.0.5"});
    assert_eq!(app.post_json(&reader, "/iso/pam/credential", body).await.body["exception"]["code"], 1039);
    assert_eq!(
        app.call(&reader, Method::DELETE, &format!("/iso/pam/credential/{id}")).await.body["exception"]["code"],
        1039
    );
    assert_eq!(app.post_json(&reader, "/iso/pam/device", json!({})).await.body["exception"]["code"], 1039);

    // Linking the credential and the device lets the other application in.
    set_link(&app.state.core, other.app.application_id, ItemKind::Credential, "app01-root", Some(Access::Read))
        .await
        .expect("link");
    set_link(&app.state.core, other.app.application_id, ItemKind::Device, "app01", Some(Access::Read))
        .await
        .expect("link");
    assert_eq!(
        app.call(&other, Method::GET, "/iso/pam/credential/app01-root").await.body["credential"]["password"],
        "pw"
    );
    assert_eq!(app.call(&other, Method::GET, "/iso/pam/device/app01").await.status, StatusCode::OK);
    let info_only = app.client(&[Resource::Info]).await;
    assert_eq!(
        app.call(&info_only, Method::GET, "/iso/pam/credential").await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}
