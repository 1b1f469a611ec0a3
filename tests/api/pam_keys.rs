//! SSH keys (§5) and related users (§9) through HTTP.

use cofre::domain::authorization::Resource;
use cofre::service::pam::rotation::generate_key;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp, error_envelope, success_block};
use crate::on_both_stores;
use crate::pam::device;

on_both_stores!(ssh_keys_are_checked_sealed_and_listed, related_users_follow_the_contract_quirks);

async fn ssh_keys_are_checked_sealed_and_listed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "git01").await;
    device(&app, &client, "git02").await;
    let (private, public) = generate_key("ed25519").expect("key");
    let (_, other_public) = generate_key("ed25519").expect("key");

    let body = json!({"hostname": "git01", "ip": "10.0.0.5", "private_key": private.as_str(), "public_key": public,
                      "username": "deploy", "key_name": "deploy key", "password": "pass phrase",
                      "devices": [{"hostname": "git02"}, {"hostname": "ghost"}]});
    let created = app.post_json(&client, "/iso/pam/key", body.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["response"], success_block(201, "Key successfully registered!"));
    let id = created.body["key"]["id"].as_str().expect("id").to_owned();
    assert_eq!(
        created.body["key"]["devices"],
        json!([{"hostname": "git01", "ip": "10.0.0.5"}, {"hostname": "git02", "ip": "10.0.0.5"}])
    );
    assert_eq!(created.body["key"]["devices_error"], json!(["ghost"]));

    let read = app.call(&client, Method::GET, &format!("/iso/pam/key/{id}")).await;
    assert_eq!(read.body["response"], success_block(200, &format!("Key {id}")));
    let key = &read.body["key"];
    assert_eq!(key["private_key"].as_str().expect("private"), private.replace('\n', "\r\n"));
    assert_eq!(
        (key["public_key"].as_str(), key["password"].as_str(), key["username"].as_str()),
        (Some(public.as_str()), Some("pass phrase"), Some("deploy"))
    );
    let listed = app.call(&client, Method::GET, "/iso/pam/credential").await;
    assert!(
        listed.body["credentials"]
            .as_array()
            .expect("list")
            .iter()
            .any(|c| c["id"] == id.as_str() && c["type"] == "SSH Key")
    );
    assert_eq!(
        app.call(&client, Method::GET, &format!("/iso/pam/credential/{id}")).await.body["exception"]["code"],
        1010
    );

    // Mismatched halves, missing halves, unknown devices.
    let mut mismatched = body.clone();
    mismatched["public_key"] = other_public.into();
    let reply = app.post_json(&client, "/iso/pam/key", mismatched).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["response"]["message"], "The public_key does not match the private_key.");
    let mut garbage = body.clone();
    garbage["private_key"] = "-----BEGIN RSA PRIVATE KEY-----\nnope".into();
    assert!(
        app.post_json(&client, "/iso/pam/key", garbage).await.body["response"]["message"]
            .as_str()
            .expect("message")
            .contains("OpenSSH")
    );
    for (field, code, message) in [
        ("private_key", 1014, "1014: The private key was not informed"),
        ("public_key", 1013, "1013: The public key was not informed"),
    ] {
        let mut missing = body.clone();
        missing.as_object_mut().expect("object").remove(field);
        assert_eq!(app.post_json(&client, "/iso/pam/key", missing).await.body, error_envelope(400, code, message));
    }

    // Enable/disable with their codes; a password credential is not a key.
    assert_eq!(app.call(&client, Method::PUT, &format!("/iso/pam/key/{id}")).await.body["exception"]["code"], 1045);
    assert_eq!(
        app.call(&client, Method::DELETE, &format!("/iso/pam/key/{id}")).await.body["response"]["message"],
        "Key successfully deactivated"
    );
    assert_eq!(
        app.call(&client, Method::GET, &format!("/iso/pam/key/{id}")).await.body,
        error_envelope(400, 1017, "1017: Key inactive")
    );
    assert_eq!(
        app.call(&client, Method::PUT, &format!("/iso/pam/key/{id}")).await.body["response"]["message"],
        "Key successfully activated"
    );
    let password = app
        .post_json(
            &client,
            "/iso/pam/credential",
            json!({"username": "u", "hostname": "git01", "ip": "10.0.0.5", "content": "p"}),
        )
        .await;
    let pid = password.body["credential"]["id"].as_str().expect("id").to_owned();
    assert_eq!(app.call(&client, Method::GET, &format!("/iso/pam/key/{pid}")).await.body["exception"]["code"], 1016);
    assert_eq!(app.call(&client, Method::GET, "/iso/pam/key/99999").await.body["exception"]["code"], 1015);

    // No secret half in the store in plaintext.
    let rows: Vec<Vec<u8>> = sqlx::query_scalar("SELECT secret FROM credentials WHERE kind = 'ssh_key'")
        .fetch_all(app.state.core.store.pool())
        .await
        .expect("rows");
    assert!(rows.iter().all(|r| !String::from_utf8_lossy(r).contains("OPENSSH")));
}

async fn related_users_follow_the_contract_quirks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Users]).await;
    let created = app.post_json(&client, "/iso/user/related", json!({"name": "Ana Souza", "username": "asouza"})).await;
    assert_eq!(created.status, StatusCode::OK, "200, not 201");
    assert_eq!(created.body["response"], success_block(200, "Related user successfully registered!"));
    let id = created.body["relatedUsers"]["id"].as_i64().expect("an integer id on create");
    let one = app.call(&client, Method::GET, &format!("/iso/user/related/{id}")).await;
    assert_eq!(
        one.body["relatedUsers"],
        json!({"id": id.to_string(), "name": "Ana Souza", "username": "asouza"}),
        "an object under the plural key"
    );
    let all = app.call(&client, Method::GET, "/iso/user/related").await;
    assert_eq!(all.body["response"]["message"], "1 related users found");
    assert_eq!(all.body["relatedUsers"][0]["id"], id.to_string());

    let missing = app.post_json(&client, "/iso/user/related", json!({"name": "x"})).await;
    assert_eq!(missing.body, error_envelope(400, 1001, "1001: Parameter 'username' was not informed!"));
    let updated = app
        .send(app.authed(&client, Method::PUT, "/iso/user/related").json(&json!({"id": id, "username": "ana.souza"})))
        .await;
    assert_eq!(updated.body["response"]["message"], "Related user successfully updated!");
    assert_eq!(updated.body["relatedUsers"]["username"], "ana.souza");
    assert_eq!(app.call(&client, Method::DELETE, &format!("/iso/user/related/{id}")).await.status, StatusCode::OK);
    assert_eq!(
        app.call(&client, Method::GET, &format!("/iso/user/related/{id}")).await.body,
        error_envelope(400, 1005, "1005: User does not exist")
    );
    let pam_only = app.client(&[Resource::Pam]).await;
    assert_eq!(app.call(&pam_only, Method::GET, "/iso/user/related").await.status, StatusCode::INTERNAL_SERVER_ERROR);
}
