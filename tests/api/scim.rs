//! SCIM 2.0 through HTTP: filters, PATCH, ETags, Bulk, deprovisioning, limits, and the
//! third-party checker scim2-tester against the live server.

use cofre::domain::authorization::Resource;
use cofre::service::admin::apps::NewApplication;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Client, TestApp};
use crate::on_both_stores;
use crate::signing::python;

on_both_stores!(
    users_filter_sort_page_and_project,
    patch_etag_and_uniqueness,
    bulk_resolves_references_and_stops_on_errors,
    deprovisioning_revokes_access_at_once,
    wrong_types_are_refused_and_refusals_are_scim_errors,
);
on_both_stores!(python: scim2_tester_reports_no_error);

async fn scim(
    app: &TestApp,
    client: &Client,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> crate::helpers::Reply {
    let mut request = app.authed(client, method, &format!("/scim/v2{path}"));
    if let Some(body) = body {
        request = request.header("content-type", "application/scim+json").body(body.to_string());
    }
    app.send(request).await
}

fn user(name: &str, work_email: &str, given: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "externalId": format!("ext-{name}"),
           "name": {"givenName": given, "familyName": "Doe"}, "password": "initial secret",
           "emails": [{"value": work_email, "type": "work", "primary": true}, {"value": format!("{name}@home.example"), "type": "home"}]})
}

async fn users_filter_sort_page_and_project(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let iga = app.client(&[Resource::Scim]).await;
    for (name, email, given) in [
        ("bjensen", "bjensen@example.com", "Barbara"),
        ("jsmith", "jsmith@corp.example", "John"),
        ("Amy", "amy@example.com", "Amy"),
    ] {
        let created = scim(&app, &iga, Method::POST, "/Users", Some(user(name, email, given))).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert!(created.headers.contains_key("location") && created.headers.contains_key("etag"));
        assert_eq!(created.headers["content-type"], "application/scim+json");
        assert!(created.body.get("password").is_none(), "passwords are never returned");
    }
    let (app_ref, iga_ref) = (&app, &iga);
    let list = |filter: &str| {
        let request = app_ref.authed(iga_ref, Method::GET, "/iso/scim/v2/Users").query(&[("filter", filter)]);
        async move {
            let reply = app_ref.send(request).await;
            (reply.status, reply.body)
        }
    };
    for (filter, expected) in [
        (r#"userName eq "BJENSEN""#, vec!["bjensen"]),
        (r#"emails[type eq "work" and value ew "example.com"]"#, vec!["bjensen", "Amy"]),
        (r#"name.givenName sw "J" or userName eq "amy""#, vec!["jsmith", "Amy"]),
        (r#"not (emails.value co "example.com")"#, vec!["jsmith"]),
        (r#"externalId eq "ext-jsmith""#, vec!["jsmith"]),
        (r#"externalId eq "EXT-JSMITH""#, vec![]),
        ("meta.created pr and active eq true", vec!["bjensen", "jsmith", "Amy"]),
    ] {
        let (status, body) = list(filter).await;
        assert_eq!(status, StatusCode::OK, "{filter}: {body}");
        let names: Vec<&str> = body["Resources"]
            .as_array()
            .expect("resources")
            .iter()
            .map(|r| r["userName"].as_str().expect("name"))
            .collect();
        assert_eq!(names, expected, "{filter}");
    }
    for bad in [
        "userName eq",
        r#"userName zz "x""#,
        r#"password eq "initial secret""#,
        &format!("{}userName pr{}", "(".repeat(25), ")".repeat(25)),
    ] {
        let (status, body) = list(bad).await;
        assert_eq!((status, body["scimType"].as_str()), (StatusCode::BAD_REQUEST, Some("invalidFilter")), "{bad}");
    }
    let page = app
        .send(app.authed(&iga, Method::GET, "/scim/v2/Users").query(&[
            ("sortBy", "userName"),
            ("sortOrder", "descending"),
            ("startIndex", "0"),
            ("count", "2"),
            ("attributes", "userName"),
        ]))
        .await;
    assert_eq!(
        (page.body["totalResults"].as_i64(), page.body["itemsPerPage"].as_i64(), page.body["startIndex"].as_i64()),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(page.body["Resources"][0]["userName"], "jsmith");
    assert!(page.body["Resources"][0].get("emails").is_none() && page.body["Resources"][0].get("id").is_some());
    let clamped = app
        .send(
            app.authed(&iga, Method::GET, "/scim/v2/Users")
                .query(&[("count", "1000000"), ("excludedAttributes", "emails")]),
        )
        .await;
    assert_eq!(clamped.body["itemsPerPage"], 3);
    assert!(clamped.body["Resources"][0].get("emails").is_none());
    assert_eq!(scim(&app, &iga, Method::GET, "/Me", None).await.status, StatusCode::NOT_IMPLEMENTED);
    let config = scim(&app, &iga, Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(config.body["filter"]["maxResults"], 200);
    assert_eq!(scim(&app, &iga, Method::GET, "/Nowhere", None).await.body["status"], "404");
    let outsider = app.client(&[Resource::Pam]).await;
    assert_eq!(scim(&app, &outsider, Method::GET, "/Users", None).await.status, StatusCode::FORBIDDEN);
}

async fn patch_etag_and_uniqueness(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let iga = app.client(&[Resource::Scim]).await;
    let created = scim(&app, &iga, Method::POST, "/Users", Some(user("carla", "carla@example.com", "Carla"))).await;
    let id = created.body["id"].as_str().expect("id").to_owned();
    let etag = created.headers["etag"].to_str().expect("ascii").to_owned();
    let dup = scim(&app, &iga, Method::POST, "/Users", Some(user("CARLA", "x@example.com", "X"))).await;
    assert_eq!((dup.status, dup.body["scimType"].as_str()), (StatusCode::CONFLICT, Some("uniqueness")));

    let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    let cases = [
        (
            json!([{"op": "replace", "path": "name.givenName", "value": "Carolina"}]),
            "/name/givenName",
            json!("Carolina"),
        ),
        (
            json!([{"op": "Replace", "path": r#"emails[type eq "work"].value"#, "value": "c@new.example"}]),
            "/emails/0/value",
            json!("c@new.example"),
        ),
        (
            json!([{"op": "add", "path": "emails", "value": [{"value": "c@other.example", "type": "other"}]}]),
            "/emails/2/type",
            json!("other"),
        ),
        (json!([{"op": "remove", "path": r#"emails[type eq "home"]"#}]), "/emails/1/type", json!("other")),
        (
            json!([{"op": "add", "value": {"title": "Engineer", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "IT"}}}]),
            "/title",
            json!("Engineer"),
        ),
        (
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Ops"}]),
            "/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User/department",
            json!("Ops"),
        ),
        (json!([{"op": "remove", "path": "title"}]), "/title", Value::Null),
    ];
    for (ops, pointer, expected) in cases {
        let reply = scim(&app, &iga, Method::PATCH, &format!("/Users/{id}"), Some(patch(ops.clone()))).await;
        assert_eq!(reply.status, StatusCode::OK, "{ops}: {}", reply.body);
        assert_eq!(reply.body.pointer(pointer).cloned().unwrap_or(Value::Null), expected, "{ops}");
    }
    for (ops, scim_type) in [
        (json!([{"op": "replace", "path": "id", "value": "9"}]), "mutability"),
        (json!([{"op": "remove"}]), "noTarget"),
        (json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]), "invalidPath"),
        (json!([{"op": "replace", "path": r#"emails[type eq "fax"].value"#, "value": "x"}]), "noTarget"),
        (json!([{"op": "move", "path": "title"}]), "invalidSyntax"),
    ] {
        let reply = scim(&app, &iga, Method::PATCH, &format!("/Users/{id}"), Some(patch(ops.clone()))).await;
        assert_eq!(
            (reply.status, reply.body["scimType"].as_str()),
            (StatusCode::BAD_REQUEST, Some(scim_type)),
            "{ops}"
        );
    }
    // A stale ETag is refused; the current one passes.
    let stale = app
        .send(app.authed(&iga, Method::PUT, &format!("/scim/v2/Users/{id}")).header("If-Match", &etag).json(&user(
            "carla",
            "c@x.example",
            "C",
        )))
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let current = scim(&app, &iga, Method::GET, &format!("/Users/{id}"), None).await.headers["etag"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let fresh = app
        .send(app.authed(&iga, Method::PUT, &format!("/scim/v2/Users/{id}")).header("If-Match", &current).json(&user(
            "carla",
            "c@x.example",
            "C",
        )))
        .await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);

    // Groups: members by PATCH, and DELETE.
    let group = scim(
        &app,
        &iga,
        Method::POST,
        "/Groups",
        Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "ops"})),
    )
    .await;
    let gid = group.body["id"].as_str().expect("id").to_owned();
    let added = scim(
        &app,
        &iga,
        Method::PATCH,
        &format!("/Groups/{gid}"),
        Some(patch(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]))),
    )
    .await;
    assert_eq!(added.body["members"][0]["value"], id.as_str());
    let shown = scim(&app, &iga, Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(shown.body["groups"][0]["display"], "ops");
    let removed = scim(
        &app,
        &iga,
        Method::PATCH,
        &format!("/Groups/{gid}"),
        Some(patch(json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]))),
    )
    .await;
    assert_eq!(removed.body["members"], json!([]));
    assert_eq!(scim(&app, &iga, Method::DELETE, &format!("/Groups/{gid}"), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(scim(&app, &iga, Method::GET, &format!("/Groups/{gid}"), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(scim(&app, &iga, Method::DELETE, &format!("/Users/{id}"), None).await.status, StatusCode::NO_CONTENT);
    let again = scim(&app, &iga, Method::POST, "/Users", Some(user("carla", "c@x.example", "C"))).await;
    assert_eq!(again.status, StatusCode::CREATED, "a deleted user's name is free again");
}

async fn bulk_resolves_references_and_stops_on_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let iga = app.client(&[Resource::Scim]).await;
    let request = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "failOnErrors": 1, "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user("dora", "dora@example.com", "Dora")},
        {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": {"displayName": "team", "members": [{"value": "bulkId:u1"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "u2", "data": user("DORA", "d2@example.com", "Dup")},
        {"method": "POST", "path": "/Users", "bulkId": "u3", "data": user("never", "n@example.com", "Never")},
    ]});
    let reply = scim(&app, &iga, Method::POST, "/Bulk", Some(request)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let ops = reply.body["Operations"].as_array().expect("operations");
    assert_eq!(ops.len(), 3, "failOnErrors stops after the first error");
    assert_eq!(
        (ops[0]["status"].as_str(), ops[1]["status"].as_str(), ops[2]["status"].as_str()),
        (Some("201"), Some("201"), Some("409"))
    );
    assert_eq!(ops[2]["response"]["scimType"], "uniqueness");
    let groups = scim(&app, &iga, Method::GET, "/Groups", None).await;
    let user_id = ops[0]["location"].as_str().expect("location").rsplit('/').next().expect("id").to_owned();
    assert_eq!(
        groups.body["Resources"][0]["members"][0]["value"],
        user_id.as_str(),
        "bulkId resolved to the new user's id"
    );
    let unknown = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "x", "members": [{"value": "bulkId:nope"}]}}]});
    assert_eq!(scim(&app, &iga, Method::POST, "/Bulk", Some(unknown)).await.body["Operations"][0]["status"], "409");
}

async fn deprovisioning_revokes_access_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let iga = app.client(&[Resource::Scim]).await;
    let created = scim(&app, &iga, Method::POST, "/Users", Some(user("eve", "eve@example.com", "Eve"))).await;
    let id = created.body["id"].as_str().expect("id").to_owned();
    // Eve's MySafe key and a dynamic token, both live.
    let key = app
        .create_app_with(NewApplication {
            owner: Some("eve".into()),
            ..NewApplication::oauth2("eve key", [Resource::MySafe].into_iter().collect())
        })
        .await;
    let eve = Client { token: app.token_for(&key).await, app: key };
    assert_eq!(app.call(&eve, Method::GET, "/api/mysafe/password").await.status, StatusCode::OK);
    let deactivate = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": false}]});
    let reply = scim(&app, &iga, Method::PATCH, &format!("/Users/{id}"), Some(deactivate)).await;
    assert_eq!(reply.body["active"], false);
    assert_eq!(
        app.call(&eve, Method::GET, "/api/mysafe/password").await.status,
        StatusCode::UNAUTHORIZED,
        "the live token stops on the next request"
    );
    let login = app
        .send(
            app.client
                .post(app.url("/api/get_auth_token"))
                .form(&[("login_name", "eve"), ("password", "initial secret")]),
        )
        .await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);
}

async fn scim2_tester_reports_no_error(backend: Backend) {
    let py = python();
    let app = TestApp::spawn(backend).await;
    let iga = app.client(&[Resource::Scim]).await;
    let token_file = app.data_dir.path().join("token");
    std::fs::write(&token_file, &iga.token).expect("token");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/scim_check.py");
    let run = |token: &std::path::Path| {
        let out = tokio::process::Command::new(&py).arg(script).arg(app.url("/scim/v2")).arg(token).output();
        async move { out.await.expect("checker runs") }
    };
    let out = run(&token_file).await;
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "scim2-tester found errors:\n{report}\n{}", String::from_utf8_lossy(&out.stderr));
    let summary = report.lines().find(|l| l.starts_with("SUMMARY")).expect("summary");
    eprintln!("scim2-tester: {summary}");
    assert!(!summary.contains("ERROR") && !summary.contains("CRITICAL"), "{summary}");
    // With a wrong token every endpoint answers 401.
    for path in ["/ServiceProviderConfig", "/Schemas", "/ResourceTypes", "/Users", "/Groups"] {
        let reply = app.send(app.client.get(app.url(&format!("/scim/v2{path}"))).bearer_auth("wrong")).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

/// Found by schemathesis: a non-string `externalId` and a non-object enterprise extension were
/// dropped silently (200), and the authentication gate answered SCIM clients in the envelope.
async fn wrong_types_are_refused_and_refusals_are_scim_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let iga = app.client(&[Resource::Scim]).await;
    let created = scim(&app, &iga, Method::POST, "/Users", Some(user("typed", "typed@example.com", "Ty"))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    for (field, value) in [("externalId", json!({})), ("externalId", json!(7)), (enterprise, json!("sales"))] {
        for (method, path, name) in
            [(Method::PUT, format!("/Users/{id}"), "typed"), (Method::POST, "/Users".to_owned(), "untyped")]
        {
            let mut body = user(name, "typed@example.com", "Ty");
            body[field] = value.clone();
            let reply = scim(&app, &iga, method.clone(), &path, Some(body)).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{method} {field}={value}: {}", reply.body);
            assert_eq!(reply.body["scimType"], "invalidValue");
        }
    }
    let shown = scim(&app, &iga, Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(shown.body["externalId"], "ext-typed", "the refused writes changed nothing");
    let listed = scim(&app, &iga, Method::GET, "/Users?filter=userName%20eq%20%22untyped%22", None).await;
    assert_eq!(listed.body["totalResults"], 0, "the refused creations created nothing");

    // Refused at the gate: still SCIM's media type and error schema, with the challenge.
    for base in ["/scim/v2", "/iso/scim/v2", "/api/scim/v2"] {
        let response =
            app.client.get(app.url(&format!("{base}/Users"))).bearer_auth("not-a-token").send().await.expect("send");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key("www-authenticate"));
        assert_eq!(response.headers()["content-type"], "application/scim+json");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
        assert_eq!(body["status"], "401");
    }
    // And a malformed path segment is a SCIM error too.
    let reply = app.send(app.authed(&iga, Method::GET, "/scim/v2/Users/%FF")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["scimType"], "invalidValue");
}
