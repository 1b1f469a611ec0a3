//! `/openapi.json` against the router, both ways: every (path, method) the router serves is in
//! the document and every one in the document is served. The router's paths come from its
//! route table; which methods each path takes is asked of the server itself (405 or not).
//! Also: the document validates as OpenAPI 3.1 with a validator from PyPI, and `/docs` serves
//! Swagger UI from cofre itself.

use std::collections::BTreeSet;
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{Backend, TestApp};

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

async fn document(app: &TestApp) -> Value {
    let response = app.client.get(app.url("/openapi.json")).send().await.expect("fetch");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.expect("json")
}

/// A concrete path for a template: every `{param}` (or axum's `{*rest}`) becomes a plain word.
fn concrete(template: &str) -> String {
    template.split('/').map(|s| if s.starts_with('{') { "probe" } else { s }).collect::<Vec<_>>().join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_and_the_router_list_the_same_routes() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");

    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method.to_ascii_lowercase()).is_some() {
                documented.insert((path.clone(), method));
            }
        }
    }

    let mut served = BTreeSet::new();
    let templates: BTreeSet<String> = cofre::http::registered_paths(&app.state).into_iter().collect();
    for template in &templates {
        let path = cofre::http::openapi::document::openapi_path(template);
        for method in METHODS {
            let request = app
                .client
                .request(Method::from_bytes(method.as_bytes()).expect("method"), app.url(&concrete(template)));
            let response = request.send().await.expect("probe");
            if response.status() != StatusCode::METHOD_NOT_ALLOWED {
                served.insert((path.clone(), method));
            }
        }
    }

    let lines = |set: Vec<&(String, &str)>| set.iter().map(|(p, m)| format!("  {m} {p}\n")).collect::<String>();
    let undocumented = lines(served.difference(&documented).collect());
    let unserved = lines(documented.difference(&served).collect());
    assert!(undocumented.is_empty(), "served but not in /openapi.json:\n{undocumented}");
    assert!(unserved.is_empty(), "in /openapi.json but not served:\n{unserved}");
    // Both prefixes of every family, and SCIM at all three bases.
    assert!(documented.contains(&("/iso/pam/credential/{key}".to_owned(), "GET")));
    assert!(documented.contains(&("/api/certificado/request/assinar/{code}".to_owned(), "GET")));
    assert!(documented.contains(&("/scim/v2/Users/{id}".to_owned(), "PATCH")));
    assert!(documented.contains(&("/iso/scim/v2/Users/{id}".to_owned(), "PATCH")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_described_with_its_security_and_errors() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = document(&app).await;
    let schemes = doc["components"]["securitySchemes"].as_object().expect("schemes");
    for scheme in ["oauth2", "bearer", "oauth1", "apiToken", "sigv4"] {
        assert!(schemes.contains_key(scheme), "security scheme {scheme} is missing");
    }
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            let id = operation["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
            assert!(operation["summary"].as_str().is_some_and(|s| !s.is_empty()), "{method} {path} has no summary");
            let responses = operation["responses"].as_object().expect("responses");
            let family = path.starts_with("/iso/") || path.starts_with("/api/");
            if family && !path.ends_with("/oauth2/token") && !path.ends_with("/get_auth_token") {
                assert!(responses.contains_key("401"), "{method} {path} documents no 401");
                let security = operation["security"].as_array().expect("security");
                assert!(security.len() >= 4, "{method} {path} lists {} schemes", security.len());
            }
            for name in path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))) {
                let declared = operation["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["in"] == "path" && p["name"] == name));
                assert!(declared, "{method} {path} does not declare its path parameter {name}");
            }
        }
    }
    // The envelope is a component every family refers to, with each route's entity keys on top.
    assert!(doc["components"]["schemas"]["Envelope"]["required"].as_array().is_some());
    let shown = &doc["paths"]["/api/pam/credential/{key}"]["get"]["responses"]["200"]["content"]["application/json"];
    assert_eq!(shown["schema"]["allOf"][1]["required"], serde_json::json!(["credential"]), "{shown}");
    assert_eq!(shown["schema"]["allOf"][1]["properties"]["credential"]["type"], "object");
}

#[cfg_attr(not(cofre_test_python), ignore = "needs COFRE_TEST_PYTHON")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_validates_as_openapi_3_1() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = document(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).expect("bytes")).expect("write");
    let python = std::env::var("COFRE_TEST_PYTHON").expect("COFRE_TEST_PYTHON");
    let output = Command::new(python)
        .args(["-m", "openapi_spec_validator", "--schema", "3.1.0"])
        .arg(&file)
        .output()
        .expect("run openapi-spec-validator");
    assert!(
        output.status.success(),
        "openapi-spec-validator refused the document:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_serve_swagger_ui_from_cofre_itself() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let page = app.client.get(app.url("/docs")).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let policy = page.headers()["content-security-policy"].to_str().expect("policy").to_owned();
    assert!(policy.contains("script-src 'self'") && !policy.contains("http"), "{policy}");
    let html = page.text().await.expect("html");
    for asset in ["/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/docs/assets/init.js"] {
        assert!(html.contains(asset), "the page does not load {asset}");
        let response = app.client.get(app.url(asset)).send().await.expect("asset");
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        assert!(!response.bytes().await.expect("bytes").is_empty());
    }
    assert!(!html.contains("://"), "the page loads something from another origin");
    let init = app.client.get(app.url("/docs/assets/init.js")).send().await.expect("init").text().await.expect("t");
    assert!(init.contains("'/openapi.json'"));
}

/// Swagger UI renders the document in a real browser under the page's own policy: nothing from
/// another origin, no inline script.
#[cfg_attr(not(cofre_test_browser), ignore = "needs COFRE_TEST_CHROMEDRIVER (Debian's chromium-driver)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swagger_ui_renders_the_document_in_a_browser() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = crate::browser::Browser::start().await;
    browser.goto(&app.url("/docs")).await;
    let within = std::time::Duration::from_secs(30);
    let title = browser.wait_for_text(".info .title", "cofre", within).await;
    assert!(title.contains("cofre") && title.contains("OAS 3.1"), "Swagger UI did not render the document: {title:?}");
    let listed = browser.wait_for_text("#swagger-ui", "/api/pam/credential/{key}", within).await;
    assert!(listed.contains("/iso/pam/credential/{key}") && listed.contains("/scim/v2/Users"), "operations missing");
}
