//! API tokens: static and dynamic values, scope, IP rules, lifetime, regeneration, deletion.

use cofre::domain::authorization::Scopes;
use cofre::domain::network::IpAllowList;
use cofre::service::admin::users::{self, NewUser};
use cofre::service::auth::api_tokens::{self, NewToken, TokenKind};
use reqwest::StatusCode;
use serde_json::json;
use zeroize::Zeroizing;

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;

on_both_stores!(
    static_tokens_follow_scope_ips_lifetime_and_regeneration,
    dynamic_tokens_are_drawn_with_a_password_and_expire
);

fn new_token(name: &str, scope: &str, ips: &[&str]) -> NewToken {
    NewToken {
        name: name.into(),
        description: "for tests".into(),
        kind: TokenKind::Static,
        scopes: Scopes::parse_list(scope).expect("scope"),
        allowed_ips: IpAllowList::parse(ips.iter().copied()).expect("ips"),
        expires_at: None,
        user: None,
    }
}

async fn static_tokens_follow_scope_ips_lifetime_and_regeneration(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rw =
        api_tokens::create(&app.state.core, new_token("deploy", "info:read,info:write", &["*"])).await.expect("token");
    let value = rw.token.expect("static value").to_string();
    assert!(value.starts_with("cft_") && value.len() > 60);

    // Bearer, the authtoken header, and the authtoken parameter.
    let created = app
        .send(
            app.client
                .post(app.url("/iso/pam/info"))
                .bearer_auth(&value)
                .json(&json!({"identifier": "t1", "content": "c"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let read = app.send(app.client.get(app.url("/iso/pam/info/t1")).header("authtoken", &value)).await;
    assert_eq!(read.body["info"]["content"], "c");
    let by_param = app.send(app.client.get(app.url("/iso/pam/info/t1")).query(&[("authtoken", &value)])).await;
    assert_eq!(by_param.status, StatusCode::OK);

    // A scope without write refuses writes, whatever the resource list says.
    let reader = api_tokens::create(&app.state.core, new_token("reader", "info:read", &["*"])).await.expect("token");
    let reader = reader.token.expect("value").to_string();
    let write =
        app.send(app.client.post(app.url("/iso/pam/info")).bearer_auth(&reader).json(&json!({"content": "x"}))).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert!(write.headers["www-authenticate"].to_str().expect("ascii").contains("insufficient_scope"));
    let pam_only = api_tokens::create(&app.state.core, new_token("pam", "pam:read", &["*"])).await.expect("token");
    let pam_only = pam_only.token.expect("value").to_string();
    let other_module = app.send(app.client.get(app.url("/iso/pam/info/t1")).bearer_auth(&pam_only)).await;
    assert_eq!(other_module.status, StatusCode::INTERNAL_SERVER_ERROR, "module not authorized");

    // IP rules: a CIDR, a range and a host name that do not hold 127.0.0.1 refuse it.
    for (name, rule) in [("cidr", "10.0.0.0/8"), ("range", "127.0.0.2-127.0.0.9"), ("host", "example.invalid")] {
        let t = api_tokens::create(&app.state.core, new_token(name, "info:read", &[rule])).await.expect("token");
        let reply =
            app.send(app.client.get(app.url("/iso/pam/info/t1")).bearer_auth(t.token.expect("value").as_str())).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{rule}");
    }
    let local =
        api_tokens::create(&app.state.core, new_token("localhost", "info:read", &["localhost"])).await.expect("token");
    let reply =
        app.send(app.client.get(app.url("/iso/pam/info/none")).bearer_auth(local.token.expect("value").as_str())).await;
    assert_eq!(reply.body["exception"]["code"], 1023, "localhost resolves to the client's address");

    // Lifetime: valid until a date, then refused; extending it revives the token.
    let now = app.state.core.now();
    api_tokens::set_expiry(&app.state.core, "deploy", Some(now + 60)).await.expect("expiry");
    assert_eq!(app.send(app.client.get(app.url("/iso/pam/info/t1")).bearer_auth(&value)).await.status, StatusCode::OK);
    app.clock.advance_secs(61);
    assert_eq!(
        app.send(app.client.get(app.url("/iso/pam/info/t1")).bearer_auth(&value)).await.status,
        StatusCode::UNAUTHORIZED
    );
    api_tokens::set_expiry(&app.state.core, "deploy", None).await.expect("never");
    assert_eq!(app.send(app.client.get(app.url("/iso/pam/info/t1")).bearer_auth(&value)).await.status, StatusCode::OK);

    // Regeneration kills the old value at once; deletion kills the new one.
    let fresh = api_tokens::regenerate(&app.state.core, "deploy").await.expect("regenerate").to_string();
    assert_eq!(
        app.send(app.client.get(app.url("/iso/pam/info/t1")).bearer_auth(&value)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.send(app.client.get(app.url("/iso/pam/info/t1")).bearer_auth(&fresh)).await.status, StatusCode::OK);
    api_tokens::delete(&app.state.core, "deploy").await.expect("delete");
    assert_eq!(
        app.send(app.client.get(app.url("/iso/pam/info/t1")).bearer_auth(&fresh)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Values are stored as hashes only.
    let listed = api_tokens::list(&app.state.core).await.expect("list");
    assert!(listed.iter().all(|t| t.row.name != "deploy"));
    let forged =
        app.send(app.client.get(app.url("/iso/pam/info/t1")).bearer_auth(format!("cft_{}", "0".repeat(64)))).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
}

async fn dynamic_tokens_are_drawn_with_a_password_and_expire(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let core = &app.state.core;
    let user = NewUser {
        username: "Ana".into(),
        display_name: "Ana".into(),
        email: "ana@example.com".into(),
        password: Some(Zeroizing::new("correct horse battery".into())),
        groups: vec![],
    };
    users::create_user(core, user).await.expect("user");
    let definition = NewToken {
        kind: TokenKind::Dynamic,
        user: Some("ana".into()),
        ..new_token("ana-ci", "info:read,info:write", &["*"])
    };
    assert!(api_tokens::create(core, definition).await.expect("definition").token.is_none());

    let draw = |login: &'static str, password: &'static str| {
        app.client.get(app.url("/api/get_auth_token")).query(&[("login_name", login), ("password", password)])
    };
    let drawn = app.send(draw(" ANA ", "correct horse battery")).await;
    assert_eq!(drawn.status, StatusCode::OK, "{}", drawn.body);
    assert_eq!(drawn.headers["cache-control"], "no-store");
    let value = drawn.body["auth_token"].as_str().expect("token").to_owned();
    assert!(value.starts_with("cfd_"));
    assert_eq!(drawn.body["expires_in"], 30 * 60);
    let create =
        app.send(app.client.post(app.url("/iso/pam/info")).bearer_auth(&value).form(&[("content", "x")])).await;
    assert_eq!(create.status, StatusCode::CREATED);

    let wrong = app.send(draw("ana", "wrong password!")).await;
    let unknown = app.send(draw("nobody", "wrong password!")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!((wrong.status, &wrong.body), (unknown.status, &unknown.body), "no enumeration");

    // Disabling the user stops their live dynamic token.
    users::update_user(core, "ana", users::UserChanges { enabled: Some(false), ..Default::default() })
        .await
        .expect("disable");
    let after = app.send(app.client.get(app.url("/iso/pam/info/none")).bearer_auth(&value)).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    users::update_user(core, "ana", users::UserChanges { enabled: Some(true), ..Default::default() })
        .await
        .expect("enable");

    // The value dies with its lifetime.
    app.clock.advance_secs(30 * 60);
    let expired = app.send(app.client.get(app.url("/iso/pam/info/none")).bearer_auth(&value)).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    let missing = app.send(app.client.post(app.url("/api/get_auth_token")).form(&[("login_name", "ana")])).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
}
