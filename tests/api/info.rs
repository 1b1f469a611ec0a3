//! Protected information (contract §7) through HTTP: exact envelopes, errors and visibility.

use cofre::domain::authorization::Resource;
use cofre::domain::authorization::{Access, ItemKind};
use cofre::service::admin::apps::set_link;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp, error_envelope, success_block};
use crate::on_both_stores;

on_both_stores!(
    register_read_and_disable_with_the_exact_envelope,
    errors_1023_1024_1026_1039_and_the_module_check,
    items_are_visible_only_to_their_creator_or_linked_apps,
    parameters_arrive_by_any_encoding,
);

async fn register_read_and_disable_with_the_exact_envelope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Info]).await;
    let created = app
        .post_json(
            &client,
            "/iso/pam/info",
            json!({"identifier": "wifi-office", "name": "Office Wi-Fi", "type": "Access credential",
                   "service": "wifi", "url": "https://wifi.example", "content": "p@ss w0rd!", "users_allowed": "ana,bia"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(
        created.body,
        json!({
            "code": 201,
            "response": success_block(201, "Information successfully registered!"),
            "info": {"name": "Office Wi-Fi", "type": "Access credential", "service": "wifi",
                     "url": "https://wifi.example", "content": "p@ss w0rd!", "users_allowed": "ana,bia",
                     "identifier": "wifi-office"}
        })
    );
    // Key order is part of the contract: code, response, then the entity.
    let text = serde_json::to_string(&created.body).expect("json");
    assert!(text.find("\"code\"") < text.find("\"response\"") && text.find("\"response\"") < text.find("\"info\""));

    let by_identifier = app.call(&client, Method::GET, "/iso/pam/info/wifi-office").await;
    let id = by_identifier.body["info"]["id"].as_str().expect("id is a string").to_owned();
    assert_eq!(
        by_identifier.body,
        json!({
            "code": 200,
            "response": success_block(200, &format!("Information {id}")),
            "info": {"id": id, "tag": "Office Wi-Fi", "type": "Access credential", "content": "p@ss w0rd!"}
        })
    );
    assert_eq!(by_identifier.headers["cache-control"], "no-store");
    let by_id = app.call(&client, Method::GET, &format!("/api/pam/info/{id}")).await;
    assert_eq!(by_id.body, by_identifier.body);

    // Registering the same identifier again updates the item.
    let updated = app.post_json(&client, "/api/pam/info", json!({"identifier": "wifi-office", "content": "new"})).await;
    assert_eq!(updated.status, StatusCode::CREATED);
    assert_eq!(updated.body["info"]["name"], "Office Wi-Fi");
    let read = app.call(&client, Method::GET, &format!("/iso/pam/info/{id}")).await;
    assert_eq!(read.body["info"]["content"], "new");

    // A blank identifier gets a generated one.
    let generated = app.post_json(&client, "/iso/pam/info", json!({"content": "c"})).await;
    let identifier = generated.body["info"]["identifier"].as_str().expect("identifier");
    assert_eq!(identifier.len(), 36, "a UUID: {identifier}");
    assert_eq!(generated.body["info"]["type"], "Access credential");

    let disabled = app.call(&client, Method::DELETE, &format!("/iso/pam/info/{id}")).await;
    assert_eq!(
        disabled.body,
        json!({"code": 200, "response": success_block(200, "Information successfully disabled")})
    );
    let gone = app.call(&client, Method::GET, &format!("/iso/pam/info/{id}")).await;
    assert_eq!(gone.body, error_envelope(400, 1024, "1024: Inactive information"));
}

async fn errors_1023_1024_1026_1039_and_the_module_check(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Info]).await;
    let missing = app.call(&client, Method::GET, "/iso/pam/info/404").await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body, error_envelope(400, 1023, "1023: Information not found"));
    let delete_missing = app.call(&client, Method::DELETE, "/iso/pam/info/404").await;
    assert_eq!(delete_missing.body, missing.body);

    for body in [json!({"name": "x"}), json!({"name": "x", "content": ""}), json!({"content": null})] {
        let reply = app.post_json(&client, "/iso/pam/info", body).await;
        assert_eq!(reply.body, error_envelope(400, 1026, "1026: The content was not informed"));
    }
    let hostile = app.post_json(&client, "/iso/pam/info", json!({"identifier": "../../etc", "content": "x"})).await;
    assert_eq!(
        hostile.body,
        error_envelope(400, 1053, "1053: The identifier can only contain letters, numbers, \"_\" and \"-\".")
    );

    let created = app.post_json(&client, "/iso/pam/info", json!({"identifier": "twice", "content": "x"})).await;
    assert_eq!(created.status, StatusCode::CREATED);
    app.call(&client, Method::DELETE, "/iso/pam/info/twice").await;
    let again = app.call(&client, Method::DELETE, "/iso/pam/info/twice").await;
    assert_eq!(again.body, error_envelope(400, 1024, "1024: Inactive information"));

    let reader = app.create_app(&[Resource::Info], true, &["*"]).await;
    let reader = crate::helpers::Client { token: app.token_for(&reader).await, app: reader };
    let write = app.post_json(&reader, "/iso/pam/info", json!({"content": "x"})).await;
    assert_eq!(write.body, error_envelope(400, 1039, "1039: Without PAM Configuration Access permission"));
    let delete = app.call(&reader, Method::DELETE, "/iso/pam/info/twice").await;
    assert_eq!(delete.body["exception"]["code"], 1039);

    let pam_only = app.client(&[Resource::Pam]).await;
    let message = "You are not authorized to access this resource.";
    for reply in [
        app.call(&pam_only, Method::GET, "/iso/pam/info/twice").await,
        app.post_json(&pam_only, "/iso/pam/info", json!({"content": "x"})).await,
    ] {
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(reply.body, error_envelope(500, 500, message));
    }
}

async fn items_are_visible_only_to_their_creator_or_linked_apps(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.client(&[Resource::Info]).await;
    let other = app.client(&[Resource::Info]).await;
    let created = app.post_json(&owner, "/iso/pam/info", json!({"identifier": "shared", "content": "s3"})).await;
    assert_eq!(created.status, StatusCode::CREATED);

    let hidden = app.call(&other, Method::GET, "/iso/pam/info/shared").await;
    assert_eq!(hidden.body, error_envelope(400, 1023, "1023: Information not found"));
    let not_theirs = app.call(&other, Method::DELETE, "/iso/pam/info/shared").await;
    assert_eq!(not_theirs.body, hidden.body);
    // The identifier is taken, but the other app learns no more than "not found".
    let clash = app.post_json(&other, "/iso/pam/info", json!({"identifier": "shared", "content": "mine"})).await;
    assert_eq!(clash.body, hidden.body);

    set_link(&app.state.core, other.app.application_id, ItemKind::Info, "shared", Some(Access::Read))
        .await
        .expect("link");
    let visible = app.call(&other, Method::GET, "/iso/pam/info/shared").await;
    assert_eq!(visible.body["info"]["content"], "s3");
}

async fn parameters_arrive_by_any_encoding(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Info]).await;
    let form = app
        .send(
            app.authed(&client, Method::POST, "/iso/pam/info/").form(&[("identifier", "f1"), ("content", "via form")]),
        )
        .await;
    assert_eq!(form.status, StatusCode::CREATED, "form body, trailing slash: {}", form.body);
    let query =
        app.send(app.authed(&client, Method::POST, "/iso/pam/info?identifier=q1&content=via%20query&unknown=1")).await;
    assert_eq!(query.body["info"]["content"], "via query");
    let multipart = reqwest::multipart::Form::new().text("identifier", "m1").text("content", "via multipart");
    let multi = app.send(app.authed(&client, Method::POST, "/api/pam/info").multipart(multipart)).await;
    assert_eq!(multi.status, StatusCode::CREATED, "{}", multi.body);
    assert_eq!(multi.body["info"]["content"], "via multipart");
    // Body wins over the query string; a JSON null is absent.
    let both = app
        .send(
            app.authed(&client, Method::POST, "/iso/pam/info?content=from-query")
                .json(&json!({"identifier": "b1", "content": "from-body", "name": null})),
        )
        .await;
    assert_eq!(both.body["info"]["content"], "from-body");
    assert_eq!(both.body["info"]["name"], "");
}
