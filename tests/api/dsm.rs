//! DevOps Secret Manager through HTTP and through the pipeline CLI (§10).

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cofre::domain::authorization::Resource;
use cofre::service::dsm::renewal::{LocalIssuer, renew_due};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Client, TestApp};
use crate::on_both_stores;

on_both_stores!(
    pipeline_flow_register_relogin_variables_fetch,
    secrets_are_versioned_renewed_and_expire,
    pipeline_cli_writes_every_tool
);

fn variant(bytes: &[u8]) -> String {
    STANDARD.encode(bytes).replace('+', "-").replace('/', "_").replace('=', ",")
}

/// Steps 1–3 of §10.4: the bootstrap client registers and logs in again with id/signature.
async fn register(app: &TestApp, bootstrap: &Client, path: &str) -> (Client, Value) {
    let reply = app
        .send(app.authed(bootstrap, Method::POST, path).form(&[
            ("application", "billing"),
            ("system", "erp"),
            ("environment", "prod"),
        ]))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let (id, signature) =
        (reply.body["id"].as_str().expect("id"), reply.body["signature"].as_str().expect("signature"));
    let token = app
        .send(app.client.post(app.url("/iso/oauth2/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", signature),
        ]))
        .await;
    assert_eq!(token.status, StatusCode::OK, "the new credentials log in at once");
    let created = cofre::service::admin::apps::CreatedApplication {
        application_id: 0,
        authorization_id: 0,
        client_id: id.to_owned(),
        client_secret: zeroize::Zeroizing::new(signature.to_owned()),
        oauth1: None,
        aws: None,
    };
    (Client { app: created, token: token.body["access_token"].as_str().expect("token").to_owned() }, reply.body)
}

fn assert_flat_string_maps(data: &Value) {
    for map in data.as_array().expect("data is an array") {
        for (k, v) in map.as_object().expect("each entry is a map") {
            assert!(v.is_string() || v.is_null(), "{k} must be a string or null, not {v}");
        }
    }
}

async fn pipeline_flow_register_relogin_variables_fetch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let bootstrap = app.client(&[Resource::Dsm]).await;
    let (pipeline, registered) = register(&app, &bootstrap, "/iso/dapp/Application").await;
    assert!(registered["response"]["message"].as_str().expect("message").starts_with("Application registered: ("));
    let (_, again) = register(&app, &bootstrap, "/iso/dapp/application/").await;
    assert!(again["response"]["message"].as_str().expect("message").starts_with("Application updated: ("));

    let env = "AWS_KEY=AKIA123\nAWS_SECRET=s3cr/t+k=y\nDB_PASSWORD=pw\nUNRELATED=1\n";
    let map = json!({
        "access_keys": [{"name": "aws/prod", "type": "aws", "fields": {"access_key_id": "AWS_KEY", "secret_access_key": "AWS_SECRET"}}],
        "credentials": [{"name": "db", "fields": {"user": "DB_USER", "password": "DB_PASSWORD"}}],
        "key_value": [{"name": "plain", "fields": ["UNRELATED"]}]
    });
    let posted = app
        .send(
            app.authed(&pipeline, Method::POST, "/iso/cicd/variables")
                .form(&[("env", variant(env.as_bytes())), ("map", STANDARD.encode(map.to_string()))]),
        )
        .await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.body);

    let fetched = app.call(&pipeline, Method::GET, "/iso/dapp/Application").await;
    let application = &fetched.body["application"];
    assert_eq!(
        (application["name"].as_str(), application["system"].as_str(), application["environment"].as_str()),
        (Some("billing"), Some("erp"), Some("prod"))
    );
    assert!(application["tags"].is_array());
    let secrets = application["secrets"].as_array().expect("secrets");
    assert_eq!(secrets.len(), 3);
    for secret in secrets {
        assert_flat_string_maps(&secret["data"]);
        for key in ["secret_id", "secret_name", "identity", "version", "expiration_date", "engine"] {
            assert!(secret[key].is_string(), "{key}");
        }
    }
    let aws = secrets.iter().find(|s| s["identity"] == "aws/prod").expect("aws");
    assert_eq!(aws["data"][0]["AWS_SECRET"], "s3cr/t+k=y");
    assert_eq!(aws["data"][0]["TTL"], Value::Null);
    let db = secrets.iter().find(|s| s["identity"] == "db").expect("db");
    assert_eq!((db["data"][0]["DB_PASSWORD"].as_str(), db["data"][0]["DB_USER"].clone()), (Some("pw"), Value::Null));

    // The bootstrap authorization has no application of its own; the pipeline's sees only its own.
    assert_eq!(app.call(&bootstrap, Method::GET, "/iso/dapp/application").await.status, StatusCode::BAD_REQUEST);
    for bad in [
        vec![("env", "!!!".to_owned()), ("map", STANDARD.encode("{}"))],
        vec![("env", variant(b"A=1")), ("map", STANDARD.encode("not json"))],
    ] {
        assert_eq!(
            app.send(app.authed(&pipeline, Method::POST, "/iso/cicd/variables").form(&bad)).await.status,
            StatusCode::BAD_REQUEST
        );
    }
    let missing = app
        .send(
            app.authed(&bootstrap, Method::POST, "/iso/dapp/application")
                .form(&[("application", "x"), ("system", "y")]),
        )
        .await;
    assert_eq!(missing.body["exception"]["code"], 1001);
    assert_eq!(missing.body["response"]["message"], "1001: Parameter 'environment' was not informed!");

    // Provisioning pods, and revoking the pipeline's own authorization.
    let pod = [("pod_name", "api-7d9"), ("deploy", "api"), ("namespace", "prod")];
    let provisioned = app.send(app.authed(&pipeline, Method::POST, "/iso/coe/dapp/provision").form(&pod)).await;
    assert_eq!(provisioned.body["application"]["secrets"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        app.send(app.authed(&pipeline, Method::POST, "/iso/dapp/deprovision").form(&pod)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.send(app.authed(&pipeline, Method::POST, "/iso/coe/dapp/deprovision").form(&pod)).await.body["exception"]["code"],
        1005
    );
    let revoked = app.call(&pipeline, Method::DELETE, "/iso/dapp/application/authorization").await;
    assert_eq!(revoked.body["response"]["message"], "Authorization successfully inactivated");
    assert_eq!(app.call(&pipeline, Method::GET, "/iso/dapp/application").await.status, StatusCode::UNAUTHORIZED);
}

async fn secrets_are_versioned_renewed_and_expire(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let bootstrap = app.client(&[Resource::Dsm]).await;
    let (mut pipeline, _) = register(&app, &bootstrap, "/iso/dapp/application").await;
    let data = json!({"access_keys": [{"access_key": {"type": "aws", "fields": {"access_key_id": "AKIAOLD", "access_key_id_label": "AWS_ACCESS_KEY_ID",
                                                                               "secret_access_key": "old", "secret_access_key_label": "AWS_SECRET_ACCESS_KEY"}}}],
                      "key_value": {"fields": {"REGION": "sa-east-1"}}});
    // Base64 (the variant) in a form, then raw JSON in a JSON body.
    let created = app
        .send(app.authed(&pipeline, Method::POST, "/iso/sctm/secret").form(&[
            ("identity", "team/app/aws".to_owned()),
            ("name", "aws".to_owned()),
            ("engine", "AWS".to_owned()),
            ("data", variant(data.to_string().as_bytes())),
            ("renew_cloud_time", "10".to_owned()),
        ]))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["response"]["message"], "Secret created successfully.");
    let updated = app
        .post_json(
            &pipeline,
            "/iso/sctm/secret",
            json!({"Identity": "team/app/aws", "data": data, "description": "v2"}),
        )
        .await;
    assert_eq!(updated.body["response"]["message"], "Secret updated successfully.");

    let one = app.call(&pipeline, Method::GET, "/iso/sctm/secret/team/app/aws").await;
    assert_eq!(one.status, StatusCode::OK, "an identity containing '/': {}", one.body);
    assert_eq!(one.body["secret"]["version"], "2");
    assert_eq!(one.body["secret"]["data"][0]["AWS_ACCESS_KEY_ID"], "AKIAOLD");
    assert_eq!(one.body["secret"]["data"][0]["TTL"], "600");
    assert_eq!(one.body["secret"]["data"][1], json!({"REGION": "sa-east-1"}));
    let listed = app.call(&pipeline, Method::GET, "/iso/sctm/secret").await;
    assert_eq!(listed.body["secrets"].as_array().map(Vec::len), Some(1));

    // Renewal by the injected clock: a new access key, a new version, the TTL restarted.
    assert!(renew_due(&app.state.core, &LocalIssuer).await.expect("renew").is_empty());
    app.clock.advance_secs(601);
    pipeline.token = app.token_for(&pipeline.app).await;
    assert_eq!(renew_due(&app.state.core, &LocalIssuer).await.expect("renew").len(), 1);
    let renewed = app.call(&pipeline, Method::GET, "/iso/sctm/secret/team/app/aws").await;
    let key = renewed.body["secret"]["data"][0]["AWS_ACCESS_KEY_ID"].as_str().expect("key");
    assert!(key.starts_with("AKIA") && key != "AKIAOLD");
    assert_ne!(renewed.body["secret"]["data"][0]["AWS_SECRET_ACCESS_KEY"], "old");
    assert_eq!(renewed.body["secret"]["version"], "3");
    assert_eq!(renewed.body["secret"]["data"][1]["REGION"], "sa-east-1", "key/value data is not re-issued");
    let id: i64 = renewed.body["secret"]["secret_id"].as_str().expect("id").parse().expect("int");
    assert_eq!(app.state.core.store.dsm_secret_versions(id).await.expect("versions").len(), 2);

    // Expired secrets are no longer served.
    let past = app
        .post_json(
            &pipeline,
            "/iso/sctm/secret",
            json!({"identity": "old", "data": {"key_value": {"fields": {"A": "1"}}},
                                                                    "expiration_date": "2000-01-01 00:00:00"}),
        )
        .await;
    assert_eq!(past.status, StatusCode::CREATED);
    assert_eq!(app.call(&pipeline, Method::GET, "/iso/sctm/secret/old").await.status, StatusCode::BAD_REQUEST);
    assert!(
        app.call(&pipeline, Method::GET, "/iso/sctm/secret").await.body["secrets"]
            .as_array()
            .expect("list")
            .iter()
            .all(|s| s["identity"] != "old")
    );

    // Bad input: base64, structure, non-string values, engines, renew times.
    for body in [
        json!({"identity": "x", "data": "%%%"}),
        json!({"identity": "x", "data": {"key_value": {"fields": {"N": 5}}}}),
        json!({"identity": "x", "data": {"key_value": {"fields": {"N": {"nested": "v"}}}}}),
        json!({"identity": "x", "data": {"unknown": []}}),
        json!({"identity": "x", "engine": "Vault9000", "data": {"key_value": {"fields": {"A": "1"}}}}),
        json!({"identity": "x", "renew_cloud_time": 5, "data": {"key_value": {"fields": {"A": "1"}}}}),
        json!({"data": {"key_value": {"fields": {"A": "1"}}}}),
    ] {
        let reply = app.post_json(&pipeline, "/iso/sctm/secret", body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
    }
}

fn cofre_dsm(app: &TestApp, client: &crate::helpers::Client, args: &[&str]) -> (String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_cofre"))
        .args(args)
        .env("SENHASEGURA_URL", &app.base)
        .env("SENHASEGURA_CLIENT_ID", &client.app.client_id)
        .env("SENHASEGURA_CLIENT_SECRET", client.app.client_secret.as_str())
        .env("SENHASEGURA_APPLICATION", "web")
        .env("SENHASEGURA_SYSTEM", "shop")
        .env("SENHASEGURA_ENVIRONMENT", "staging")
        .env("PIPELINE_TOKEN", "pipeline-secret-value")
        .output()
        .expect("cofre runs");
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

async fn pipeline_cli_writes_every_tool(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let bootstrap = app.client(&[Resource::Dsm]).await;
    let dir = app.data_dir.path();
    let map = dir.join("map.json");
    std::fs::write(&map, json!({"key_value": [{"name": "ci", "fields": ["PIPELINE_TOKEN"]}]}).to_string())
        .expect("map");
    let expected = [
        ("github", "PIPELINE_TOKEN<<COFRE_EOF_"),
        ("gitlab", "PIPELINE_TOKEN=pipeline-secret-value\n"),
        ("azure-devops", "##vso[task.setvariable variable=PIPELINE_TOKEN;issecret=true]pipeline-secret-value\n"),
        ("bamboo", "PIPELINE_TOKEN=pipeline-secret-value\n"),
        ("bitbucket", "export PIPELINE_TOKEN='pipeline-secret-value'\n"),
        ("circleci", "export PIPELINE_TOKEN='pipeline-secret-value'\n"),
        ("teamcity", "##teamcity[setParameter name='env.PIPELINE_TOKEN' value='pipeline-secret-value']\n"),
        ("linux", "export PIPELINE_TOKEN='pipeline-secret-value'\n"),
    ];
    for (tool, needle) in expected {
        let out = dir.join(format!("{tool}.vars"));
        let (stdout, stderr) = cofre_dsm(
            &app,
            &bootstrap,
            &[
                "dsm",
                "run",
                "--tool",
                tool,
                "--map-file",
                map.to_str().expect("utf-8"),
                "--output",
                out.to_str().expect("utf-8"),
            ],
        );
        let written = std::fs::read_to_string(&out).expect("written");
        assert!(written.contains(needle), "{tool}: {written}");
        assert!(
            !stdout.contains("pipeline-secret-value") && !stderr.contains("pipeline-secret-value"),
            "{tool} echoed a secret"
        );
    }
    let target = dir.join("exec.txt");
    cofre_dsm(
        &app,
        &bootstrap,
        &["dsm", "exec", "--", "sh", "-c", &format!("printf %s \"$PIPELINE_TOKEN\" > {}", target.display())],
    );
    assert_eq!(std::fs::read_to_string(&target).expect("written"), "pipeline-secret-value");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_cli_verifies_tls_and_trusts_a_given_ca() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.tls = cofre::config::TlsMode::SelfSigned).await;
    let bootstrap = Client { app: app.create_app(&[Resource::Dsm], false, &["*"]).await, token: String::new() };
    let url = format!("https://localhost:{}", app.addr.port());
    let cert = app.data_dir.path().join("tls/cert.pem");
    let out = app.data_dir.path().join("vars");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cofre"))
            .args(["dsm", "run", "--output", out.to_str().expect("utf-8")])
            .args(extra)
            .env("SENHASEGURA_URL", &url)
            .env("SENHASEGURA_CLIENT_ID", &bootstrap.app.client_id)
            .env("SENHASEGURA_CLIENT_SECRET", bootstrap.app.client_secret.as_str())
            .env("SENHASEGURA_APPLICATION", "a")
            .env("SENHASEGURA_SYSTEM", "s")
            .env("SENHASEGURA_ENVIRONMENT", "e")
            .output()
            .expect("cofre runs")
    };
    let untrusted = run(&[]);
    assert!(!untrusted.status.success(), "an unknown certificate is refused");
    let trusted = run(&["--ca-file", cert.to_str().expect("utf-8")]);
    assert!(trusted.status.success(), "{}", String::from_utf8_lossy(&trusted.stderr));
}
