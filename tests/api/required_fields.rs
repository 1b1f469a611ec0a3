//! A create missing several required fields is told every one of them in one answer: the
//! error is the first missing field's (its 10xx code and the contract's text, verbatim) and
//! `detail` names each missing field with its code. One missing field answers as before.

use cofre::domain::authorization::Resource;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, error_envelope};
use crate::mysafe::user_key;
use crate::on_both_stores;
use crate::write_races::pipeline;

on_both_stores!(a_device_missing_four_fields_names_all_four, every_create_names_all_its_missing_fields);

/// The error envelope of the first of `messages` (code `code`), its detail listing them all.
fn all_named(code: u16, messages: &[&str]) -> Value {
    let mut expected = error_envelope(400, code, messages[0]);
    let every = messages.join("; ");
    expected["response"]["detail"] = every.clone().into();
    expected["exception"]["detail"] = every.into();
    expected
}

async fn a_device_missing_four_fields_names_all_four(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    let reply = app.post_json(&client, "/iso/pam/device", json!({"hostname": "web01", "ip": "10.0.0.5"})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body,
        all_named(
            1020,
            &[
                "1020: The device's model was not informed",
                "1022: The device's type was not informed",
                "1021: The device's vendor was not informed",
                "1019: The device's site was not informed",
            ]
        )
    );
    // One missing field: the contract's error exactly, as before.
    let one = app
        .post_json(
            &client,
            "/iso/pam/device",
            json!({"hostname": "web01", "ip": "10.0.0.5", "model": "m", "type": "t", "vendor": "v"}),
        )
        .await;
    assert_eq!(one.body, error_envelope(400, 1019, "1019: The device's site was not informed"));
}

async fn every_create_names_all_its_missing_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pam = app.client(&[Resource::Pam, Resource::Users, Resource::Dsm]).await;
    let cases = [
        (
            "/iso/pam/device",
            &[
                "1005: The device's IP was not informed",
                "1004: The device's hostname was not informed",
                "1020: The device's model was not informed",
                "1022: The device's type was not informed",
                "1021: The device's vendor was not informed",
                "1019: The device's site was not informed",
            ][..],
        ),
        (
            "/iso/pam/credential",
            &[
                "1042: Invalid username",
                "1004: The device's hostname was not informed",
                "1005: The device's IP was not informed",
            ][..],
        ),
        (
            "/iso/pam/key",
            &[
                "1005: The device's IP was not informed",
                "1004: The device's hostname was not informed",
                "1014: The private key was not informed",
                "1013: The public key was not informed",
            ][..],
        ),
        (
            "/iso/user/related",
            &["1001: Parameter 'name' was not informed!", "1001: Parameter 'username' was not informed!"][..],
        ),
        (
            "/iso/dapp/application",
            &[
                "1001: Parameter 'application' was not informed!",
                "1001: Parameter 'system' was not informed!",
                "1001: Parameter 'environment' was not informed!",
            ][..],
        ),
    ];
    for (path, messages) in cases {
        let reply = app.post_json(&pam, path, json!({})).await;
        let code: u16 = messages[0][..4].parse().expect("code");
        assert_eq!(reply.body, all_named(code, messages), "{path}");
    }

    let pipeline = pipeline(&app, &pam, "billing").await;
    for (path, messages) in [
        (
            "/iso/sctm/secret",
            &["1001: Parameter 'identity' was not informed!", "1001: Parameter 'data' was not informed!"][..],
        ),
        (
            "/iso/coe/dapp/provision",
            &[
                "1001: Parameter 'pod_name' was not informed!",
                "1001: Parameter 'deploy' was not informed!",
                "1001: Parameter 'namespace' was not informed!",
            ][..],
        ),
    ] {
        let reply = app.post_json(&pipeline, path, json!({})).await;
        assert_eq!(reply.body, all_named(1001, messages), "{path}");
    }

    let owner = user_key(&app, "owner").await;
    let reply = app.post_json(&owner, "/api/mysafe/password", json!({"username": "dba"})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    let detail = "1001: Parameter 'name' was not informed!; 1001: Parameter 'password' was not informed!";
    assert_eq!(reply.body["response"]["message"], "1001: Parameter 'name' was not informed!");
    assert_eq!(reply.body["response"]["detail"], detail, "{}", reply.body);
}
