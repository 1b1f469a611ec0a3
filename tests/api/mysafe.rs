//! MySafe through HTTP: the seed 001 examples as literal fixtures, the sharing matrix, TOTP,
//! the note limit, identifier codes, and files.

use cofre::domain::authorization::Resource;
use cofre::service::admin::apps::NewApplication;
use cofre::service::admin::users::{self, NewUser, create_group, set_membership};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Client, TestApp, error_envelope, success_block};
use crate::on_both_stores;

on_both_stores!(
    seed_001_api_secret_examples_are_reproduced,
    sharing_matrix_for_every_operation,
    passwords_notes_and_their_rules,
);

/// A user and a MySafe API key acting as them.
pub async fn user_key(app: &TestApp, username: &str) -> Client {
    let user = NewUser {
        username: username.into(),
        display_name: String::new(),
        email: String::new(),
        password: None,
        groups: vec![],
    };
    if users::user(&app.state.core, username).await.is_err() {
        users::create_user(&app.state.core, user).await.expect("user");
    }
    let created = app
        .create_app_with(NewApplication {
            owner: Some(username.into()),
            ..NewApplication::oauth2("mysafe key", [Resource::MySafe].into_iter().collect())
        })
        .await;
    Client { token: app.token_for(&created).await, app: created }
}

fn with_identifier(mut expected: Value, key: &str, id: &str) -> Value {
    expected[key]["identifier"] = id.into();
    expected
}

async fn seed_001_api_secret_examples_are_reproduced(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = user_key(&app, "mariana").await;
    user_key(&app, "pduarte").await;
    user_key(&app, "alices").await;
    create_group(&app.state.core, "Test group").await.expect("group");

    let request = json!({
        "name": "GCP", "url": "https://gcp.com", "client_id": "gf455f7g8fb5dfg8fd545bffbv",
        "client_secret": "gf5464g5v7ffsd857xc4fds57g8fds", "identifier_code": "hyga125", "tags": "Cloud",
        "notes": "Access details", "method": "get",
        "users_allowed": [{"username": "pduarte", "can_edit": true}],
        "groups_allowed": [{"name": "Test group"}]
    });
    let created = app.post_json(&owner, "/api/mysafe/secretapi", request.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.body["api_entity"]["identifier"].as_str().expect("identifier").to_owned();
    let expected = json!({
        "code": 201,
        "response": {"status": 201, "message": "Api secret successfully registered", "error": false, "error_code": 0, "detail": "",
                     "mensagem": "Api secret successfully registered", "erro": false, "cod_erro": 0},
        "api_entity": {"identifier": "43", "name": "GCP", "url": "https://gcp.com", "client_secret": "gf5464g5v7ffsd857xc4fds57g8fds",
                       "client_id": "gf455f7g8fb5dfg8fd545bffbv", "identifier_code": "hyga125", "method": "get", "tags": "Cloud",
                       "notes": "Access details", "users_allowed": [{"username": "pduarte", "can_edit": true}],
                       "groups_allowed": [{"name": "Test group", "can_edit": false}], "shared_error": []}
    });
    assert_eq!(created.body, with_identifier(expected, "api_entity", &id));
    assert_eq!(serde_json::to_string(&created.body).expect("json").find("\"code\""), Some(1), "code comes first");

    // Only `name` missing: the seed's error exactly (several missing would be listed in `detail`).
    let missing = app
        .post_json(&owner, "/api/mysafe/secretapi", json!({"url": "https://x", "client_id": "c", "client_secret": "s"}))
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body, error_envelope(400, 1001, "1001: Parameter 'name' was not informed!"));

    let update = json!({
        "name": "GCP1", "url": "https://gcp1.com", "client_id": "hb455f7g8fg9dfg8yt845bxxku",
        "client_secret": "hy7464g5v8ghy4d858jk7fds57t4tr", "identifier_code": "gcp7852", "tags": "Cloud1",
        "notes": "Access details for this API secret",
        "users_allowed": [{"username": "alices", "can_edit": true}],
        "groups_allowed": []
    });
    let updated =
        app.send(app.authed(&owner, Method::PUT, &format!("/api/mysafe/secretapi/update/{id}")).json(&update)).await;
    assert_eq!(updated.status, StatusCode::OK);
    let expected = json!({
        "code": 200,
        "response": {"status": 200, "message": "Api secret updated successfully", "error": false, "error_code": 0, "detail": "",
                     "mensagem": "Api secret updated successfully", "erro": false, "cod_erro": 0},
        "api_entity": {"identifier": "43", "name": "GCP1", "url": "https://gcp1.com", "client_secret": "hy7464g5v8ghy4d858jk7fds57t4tr",
                       "client_id": "hb455f7g8fg9dfg8yt845bxxku", "identifier_code": "gcp7852", "method": "get", "tags": "Cloud1",
                       "notes": "Access details for this API secret", "users_allowed": [{"username": "alices", "can_edit": true}],
                       "groups_allowed": [], "shared_error": []}
    });
    assert_eq!(updated.body, with_identifier(expected, "api_entity", &id));

    // The identifier code clashes with another API secret of this user.
    let second = app
        .post_json(
            &owner,
            "/api/mysafe/secretapi",
            json!({"name": "b", "url": "u", "client_id": "i", "client_secret": "s", "identifier_code": "other"}),
        )
        .await;
    let second_id = second.body["api_entity"]["identifier"].as_str().expect("id").to_owned();
    let clash = app
        .send(
            app.authed(&owner, Method::PUT, &format!("/api/mysafe/secretapi/update/{second_id}"))
                .json(&json!({"identifier_code": "gcp7852"})),
        )
        .await;
    assert_eq!(
        clash.body,
        error_envelope(400, 1001, "1001: 'Identifier' already found in another API key of this user")
    );

    // Views and edits are audited with the acting user; sharing with the names shared with.
    let records = app.state.core.store.recent_audit(20).await.expect("audit");
    let create_record = records
        .iter()
        .find(|r| r.method == "POST" && r.route == "/api/mysafe/secretapi" && r.status == 201)
        .expect("audited");
    let owner_id = users::user(&app.state.core, "mariana").await.expect("user").id;
    assert!(create_record.detail.contains(&format!("\"acting_user_id\":\"{owner_id}\"")), "{}", create_record.detail);
    assert!(create_record.detail.contains("pduarte") && create_record.detail.contains("Test group"));
    assert!(!create_record.detail.contains("gf5464g5v7ffsd857xc4fds57g8fds"), "the client secret is masked");

    // A user with no access.
    let stranger = user_key(&app, "stranger").await;
    let denied = app
        .send(
            app.authed(&stranger, Method::PUT, &format!("/api/mysafe/secretapi/update/{id}"))
                .json(&json!({"name": "x"})),
        )
        .await;
    assert_eq!(denied.body, error_envelope(400, 1006, "1006: User does not have access"));
}

async fn sharing_matrix_for_every_operation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let core = &app.state.core;
    let owner = user_key(&app, "owner").await;
    let editor = user_key(&app, "editor").await;
    let viewer = user_key(&app, "viewer").await;
    let member = user_key(&app, "member").await;
    let stranger = user_key(&app, "stranger").await;
    create_group(core, "team").await.expect("group");
    set_membership(core, "team", "member", true).await.expect("member");

    let created = app
        .post_json(
            &owner,
            "/api/mysafe/password",
            json!({"name": "db", "username": "root", "password": "s3cret", "tags": "prod",
            "users_allowed": [{"username": "editor", "can_edit": true}, {"username": "viewer"}, {"username": "ghost"}],
            "groups_allowed": [{"name": "team"}, {"name": "no-such-group", "can_edit": true}]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body["password_entity"]["shared_error"].as_array().expect("errors").len(),
        2,
        "unknown names land in shared_error"
    );
    let id = created.body["password_entity"]["identifier"].as_str().expect("id").to_owned();
    let (one, update_path) = (format!("/iso/mysafe/password/{id}"), format!("/api/mysafe/password/update/{id}"));
    let get = |c: &Client| app.send(app.authed(c, Method::GET, &one));
    let list = |c: &Client| app.send(app.authed(c, Method::GET, "/api/mysafe/password"));
    let edit = |c: &Client, name: &'static str| {
        app.send(app.authed(c, Method::PUT, &update_path).json(&json!({"name": name})))
    };

    // Read: owner, editor, viewer, group member yes; stranger 1006.
    for (who, client) in [("owner", &owner), ("editor", &editor), ("viewer", &viewer), ("member", &member)] {
        assert_eq!(get(client).await.body["password_entity"]["password"], "s3cret", "{who}");
        let listed = list(client).await;
        let row = &listed.body["password_on_list"][0];
        assert_eq!(row["identifier"], id.as_str(), "{who}");
        assert_eq!((row["need_justify"].as_str(), row["can_view"].as_bool()), (Some("0"), Some(true)));
        assert_eq!(row["can_write"], who == "owner" || who == "editor", "{who}");
    }
    assert_eq!(get(&stranger).await.body["exception"]["code"], 1006);
    assert_eq!(list(&stranger).await.body["password_on_list"], json!([]));
    assert_eq!(
        app.call(&owner, Method::GET, "/api/mysafe/password/99999").await.body,
        error_envelope(400, 1005, "1005: Password not found")
    );

    // Update: owner and editor yes; viewer, member, stranger 1006. Only the owner reshares.
    assert_eq!(edit(&owner, "db1").await.status, StatusCode::OK);
    assert_eq!(edit(&editor, "db2").await.body["password_entity"]["name"], "db2");
    for client in [&viewer, &member, &stranger] {
        assert_eq!(edit(client, "nope").await.body["exception"]["code"], 1006);
    }
    let reshare = app
        .send(
            app.authed(&editor, Method::PUT, &format!("/api/mysafe/password/update/{id}"))
                .json(&json!({"users_allowed": []})),
        )
        .await;
    assert_eq!(reshare.body["exception"]["code"], 1006);

    // Group membership changes take effect at once.
    set_membership(core, "team", "member", false).await.expect("leave");
    assert_eq!(get(&member).await.body["exception"]["code"], 1006);
    set_membership(core, "team", "member", true).await.expect("rejoin");
    assert_eq!(get(&member).await.status, StatusCode::OK);

    // Inactive: vanishes for sharees, stays (marked) for the owner; viewers cannot toggle.
    assert_eq!(
        app.call(&viewer, Method::POST, &format!("/api/mysafe/password/inactive/{id}")).await.body["exception"]["code"],
        1006
    );
    let off = app.call(&owner, Method::POST, &format!("/api/mysafe/password/inactive/{id}")).await;
    assert_eq!(off.body["response"], success_block(200, "Password successfully deactivated"));
    assert_eq!(list(&viewer).await.body["password_on_list"], json!([]));
    assert_eq!(get(&viewer).await.body["exception"]["code"], 1005);
    assert_eq!(list(&owner).await.body["password_on_list"][0]["active"], false);
    let on = app.call(&editor, Method::POST, &format!("/api/mysafe/password/active/{id}")).await;
    assert_eq!(on.body["exception"]["code"], 1005, "an editor no longer sees the inactive item");
    let on = app.call(&owner, Method::POST, &format!("/api/mysafe/password/active/{id}")).await;
    assert_eq!(on.body["response"]["message"], "Password successfully activated");

    // An empty list removes that sharing.
    let unshared = app
        .send(
            app.authed(&owner, Method::PUT, &format!("/api/mysafe/password/update/{id}"))
                .json(&json!({"users_allowed": []})),
        )
        .await;
    assert_eq!(unshared.body["password_entity"]["users_allowed"], json!([]));
    assert_eq!(get(&viewer).await.body["exception"]["code"], 1006);
    assert_eq!(get(&member).await.status, StatusCode::OK, "the group share stays");

    // Wrong types are refused; nothing changes.
    for body in [
        json!({"users_allowed": "viewer"}),
        json!({"users_allowed": [{"username": "viewer", "can_edit": "yes"}]}),
        json!({"groups_allowed": {"name": "team"}}),
    ] {
        let reply =
            app.send(app.authed(&owner, Method::PUT, &format!("/api/mysafe/password/update/{id}")).json(&body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
    }
    // A key without an owner is no MySafe caller.
    let plain = app.client(&[Resource::MySafe]).await;
    assert_eq!(list(&plain).await.status, StatusCode::BAD_REQUEST);
    // Disabling the user stops their key at once.
    users::update_user(core, "viewer", users::UserChanges { enabled: Some(false), ..Default::default() })
        .await
        .expect("disable");
    assert_eq!(list(&viewer).await.status, StatusCode::UNAUTHORIZED);
}

async fn passwords_notes_and_their_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ana = user_key(&app, "ana").await;
    let bia = user_key(&app, "bia").await;

    // Password create and read, with the current TOTP code.
    let created = app
        .post_json(
            &ana,
            "/api/mysafe/password",
            json!({"name": "mail", "username": "ana", "password": "pw", "url": "https://mail",
            "secret_key": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "notes": "2FA on", "tags": "work"}),
        )
        .await;
    assert_eq!(created.body["response"]["message"], "Password successfully registered");
    let entity = &created.body["password_entity"];
    assert_eq!((entity["note"].as_str(), entity["shared_error"].clone()), (Some("2FA on"), json!([])));
    let id = entity["identifier"].as_str().expect("id").to_owned();
    let read = app.call(&ana, Method::GET, &format!("/api/mysafe/password/{id}")).await;
    assert_eq!(read.body["response"]["message"], "Success");
    let expected = cofre::crypto::totp::code(b"12345678901234567890", app.state.core.now(), 6);
    assert_eq!(read.body["password_entity"]["token"], expected.as_str());
    assert_eq!(read.body["password_entity"]["secret_key"], "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    for missing in ["name", "username", "password"] {
        let mut body = json!({"name": "n", "username": "u", "password": "p"});
        body.as_object_mut().expect("object").remove(missing);
        let reply = app.post_json(&ana, "/api/mysafe/password", body).await;
        assert_eq!(reply.body, error_envelope(400, 1001, &format!("1001: Parameter '{missing}' was not informed!")));
    }
    assert_eq!(
        app.call(&ana, Method::GET, "/api/mysafe/password?tag=work").await.body["password_on_list"]
            .as_array()
            .expect("list")
            .len(),
        1
    );
    assert_eq!(app.call(&ana, Method::GET, "/api/mysafe/password?tag=home").await.body["password_on_list"], json!([]));

    // Notes: 900 characters pass, 901 do not.
    let ok = app.post_json(&ana, "/iso/mysafe/note", json!({"name": "long", "note": "n".repeat(900)})).await;
    assert_eq!(ok.body["response"]["message"], "Note successfully registered");
    assert_eq!(
        ok.body["note_entity"].as_object().expect("entity").keys().collect::<Vec<_>>(),
        ["identifier", "name", "tags", "users_allowed", "groups_allowed", "shared_error"]
    );
    let too_long = app.post_json(&ana, "/iso/mysafe/note", json!({"name": "long", "note": "n".repeat(901)})).await;
    assert_eq!(too_long.body, error_envelope(400, 1001, "1001: Parameter note limited to 900 characters"));
    let note_id = ok.body["note_entity"]["identifier"].as_str().expect("id").to_owned();
    let note = app.call(&ana, Method::GET, &format!("/api/mysafe/note/{note_id}")).await;
    assert_eq!(note.body["note_entity"]["note"].as_str().map(str::len), Some(900));
    assert_eq!(
        app.call(&ana, Method::GET, "/api/mysafe/note?name=lon").await.body["note_on_list"]
            .as_array()
            .expect("list")
            .len(),
        1
    );
    let off = app.call(&ana, Method::POST, &format!("/api/mysafe/note/inactive/{note_id}")).await;
    assert_eq!(off.body["response"]["message"], "Note successfully deactivated");

    // identifier_code is unique per user, reusable by another user.
    let api =
        json!({"name": "k", "url": "u", "client_id": "i", "client_secret": "s", "identifier_code": "shared-code"});
    let first = app.post_json(&ana, "/api/mysafe/secretapi", api.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(app.post_json(&ana, "/api/mysafe/secretapi", api.clone()).await.body["exception"]["code"], 1001);
    assert_eq!(app.post_json(&bia, "/api/mysafe/secretapi", api).await.status, StatusCode::CREATED);
    let api_id = first.body["api_entity"]["identifier"].as_str().expect("id").to_owned();
    let listed = app.call(&ana, Method::GET, "/api/mysafe/secretapi?identifier_code=shared-code").await;
    assert_eq!(listed.body["api_secret_on_list"].as_array().expect("list").len(), 1);
    // API secrets toggle through both the secretapi paths and the password paths the docs print.
    let via_password_path = app.call(&ana, Method::POST, &format!("/api/mysafe/password/inactive/{api_id}")).await;
    assert_eq!(via_password_path.body["response"]["message"], "Api secret successfully deactivated");
    let via_own_path = app.call(&ana, Method::POST, &format!("/api/mysafe/secretapi/active/{api_id}")).await;
    assert_eq!(via_own_path.body["response"]["message"], "Api secret successfully activated");
}
