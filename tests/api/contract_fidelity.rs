//! Contract details real clients depend on (issue 13): dsmcli without a mapping file, paths
//! without case, SCIM errors under every SCIM base, MySafe's "Password not found", unknown
//! sub-resources, and the module checked before parameters.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cofre::domain::authorization::Resource;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp, error_envelope};
use crate::on_both_stores;
use crate::pam::device;
use crate::write_races::{count, pipeline};

on_both_stores!(
    dsmcli_without_a_mapping_file_posts_its_variables,
    paths_match_without_case,
    scim_errors_under_every_scim_base,
    mysafe_items_not_found_say_password_not_found,
    unknown_sub_resources_answer_404,
    dsm_checks_the_module_before_parameters,
    ansible_create_rename_delete_cycle,
    a_new_identifier_renames_an_ssh_key,
    credentials_on_a_device_another_application_registered,
    lenient_types_are_taken_as_their_text,
    expiration_times_are_iso_8601_with_their_offset,
    an_oversized_body_sent_whole_still_gets_its_413,
    dsm_reregistration_leaves_no_pile_of_live_credentials,
);

/// dsmcli's `loadMapVars` returns "" without `SENHASEGURA_MAPPING_FILE`: it posts `map=`
/// empty (and no `helm`). The variables are received; nothing is saved as a secret.
async fn dsmcli_without_a_mapping_file_posts_its_variables(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registrar = app.client(&[Resource::Dsm]).await;
    let pipeline = pipeline(&app, &registrar, "billing").await;
    let env = STANDARD.encode("CI=true\nHOME=/root\n").replace('+', "-").replace('/', "_").replace('=', ",");
    let posted = app
        .send(app.authed(&pipeline, Method::POST, "/iso/cicd/variables").form(&[("env", env.as_str()), ("map", "")]))
        .await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.body);
    assert_eq!(posted.body["response"]["error"], false);
    let without = app.send(app.authed(&pipeline, Method::POST, "/iso/cicd/variables").form(&[("env", env)])).await;
    assert_eq!(without.status, StatusCode::OK, "{}", without.body);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM dsm_secrets").await, 0);
    // And the rest of dsmcli's run goes on: the application block answers.
    let fetched = app.call(&pipeline, Method::GET, "/iso/dapp/Application").await;
    assert_eq!(fetched.status, StatusCode::OK, "{}", fetched.body);
    assert_eq!(fetched.body["application"]["secrets"], json!([]));
}

async fn paths_match_without_case(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "case01").await;
    let body = json!({"identifier": "MixedCase-Id", "username": "svc", "hostname": "case01", "ip": "10.0.0.5",
                      "content": "pw"});
    let created = app.post_json(&client, "/ISO/Pam/Credential", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["credential"]["id"].as_str().expect("id").to_owned();
    for path in [format!("/ISO/Pam/Credential/{id}"), format!("/Api/PAM/credential/{id}")] {
        let read = app.call(&client, Method::GET, &path).await;
        assert_eq!(read.status, StatusCode::OK, "{path}: {}", read.body);
        assert_eq!(read.body["credential"]["identifier"], "MixedCase-Id");
    }
    // The identifier keeps its case: it is not a route word.
    let by_identifier = app.call(&client, Method::GET, "/ISO/PAM/CREDENTIAL/MixedCase-Id").await;
    assert_eq!(by_identifier.status, StatusCode::OK, "{}", by_identifier.body);
    let wrong_case = app.call(&client, Method::GET, "/iso/pam/credential/mixedcase-id").await;
    assert_eq!(wrong_case.status, StatusCode::BAD_REQUEST, "{}", wrong_case.body);
}

/// scim2-tester's `random_url` check: an unknown path under a SCIM base is a SCIM error.
async fn scim_errors_under_every_scim_base(backend: Backend) {
    use crate::scim_access::token;
    let app = TestApp::spawn(backend).await;
    let scim = token(&app, "scim:read,scim:write").await;
    for base in ["/scim/v2", "/iso/scim/v2", "/api/scim/v2"] {
        let reply = app.send(app.client.get(app.url(&format!("{base}/NoSuchThing"))).bearer_auth(&scim)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{base}: {}", reply.body);
        assert_eq!(reply.body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{base}");
        assert_eq!(reply.body["status"], "404", "{base}: {}", reply.body);
    }
}

async fn mysafe_items_not_found_say_password_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = crate::mysafe::user_key(&app, "ana").await;
    for kind in ["password", "note", "secretapi", "file"] {
        let reply = app.call(&user, Method::GET, &format!("/api/mysafe/{kind}/999999")).await;
        assert_eq!(reply.body, error_envelope(400, 1005, "1005: Password not found"), "{kind}");
    }
}

/// A path under a family that names nothing is the contract's 404 "Resource sub not found",
/// in the envelope; a path under no family is the gateway's answer.
async fn unknown_sub_resources_answer_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    for path in ["/iso/pam/nothing", "/api/pam/credential/1/nothing", "/api/mysafe/nothing"] {
        let reply = app.call(&client, Method::GET, path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}: {}", reply.body);
        assert_eq!(reply.body["response"]["message"], "Resource sub not found", "{path}: {}", reply.body);
        assert_eq!(reply.body["response"]["error"], true);
    }
    let elsewhere = app.call(&client, Method::GET, "/nowhere").await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    assert_eq!(elsewhere.body["response"]["message"], "No route matched with those values.");
}

/// §2.4: without the module the answer is 500 "You are not authorized…", before any
/// parameter is looked at — as in every other family.
async fn dsm_checks_the_module_before_parameters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pam_only = app.client(&[Resource::Pam]).await;
    for path in ["/iso/dapp/application", "/iso/sctm/secret", "/iso/cicd/variables", "/iso/coe/dapp/provision"] {
        let reply = app.send(app.authed(&pam_only, Method::POST, path).form(&[("unrelated", "1")])).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}: {}", reply.body);
        assert_eq!(reply.body["response"]["message"], "You are not authorized to access this resource.", "{path}");
    }
}

/// The Ansible collection's cycle, with the requests it sends (form bodies; `type` for the
/// credential type; `?credential=` on reads; DELETE by identifier with `identifier=` in the
/// body): create, rename by upserting hostname+ip+username with a new identifier, delete.
async fn ansible_create_rename_delete_cycle(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "ans01").await;
    let post = |identifier: &str| {
        app.authed(&client, Method::POST, "/iso/pam/credential").form(&[
            ("identifier", identifier),
            ("username", "deploy"),
            ("hostname", "ans01"),
            ("ip", "10.0.0.5"),
            ("content", "s3cret"),
            ("type", "Local User"),
            ("tags", "ansible,lab"),
        ])
    };
    let created = app.send(post("ans-old")).await;
    assert_eq!(created.body["response"]["message"], "Credential successfully registered!", "{}", created.body);
    let renamed = app.send(post("ans-new")).await;
    assert_eq!(renamed.body["response"]["message"], "Credential updated successfully!", "{}", renamed.body);
    assert_eq!(renamed.body["credential"]["identifier"], "ans-new", "{}", renamed.body);
    assert_eq!(renamed.body["credential"]["id"], created.body["credential"]["id"]);

    let read = app.call(&client, Method::GET, "/iso/pam/credential/ans-new?credential=ans-new").await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["credential"]["password"], "s3cret");
    let old = app.call(&client, Method::GET, "/iso/pam/credential/ans-old?credential=ans-old").await;
    assert_eq!(old.status, StatusCode::BAD_REQUEST, "the old identifier names nothing now: {}", old.body);

    let absent = app
        .send(app.authed(&client, Method::DELETE, "/iso/pam/credential/ans-new").form(&[("identifier", "ans-new")]))
        .await;
    assert_eq!(absent.status, StatusCode::OK, "{}", absent.body);
    assert_eq!(absent.body["response"]["message"], "Credential successfully deactivated");
    let gone = app.call(&client, Method::GET, "/iso/pam/credential/ans-new?credential=ans-new").await;
    assert_eq!(gone.body["exception"]["code"], 1008, "inactive: {}", gone.body);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM credentials").await, 1);
}

async fn a_new_identifier_renames_an_ssh_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "git01").await;
    let (private, public) = cofre::service::pam::rotation::generate_key("ed25519").expect("key");
    let body = |identifier: &str| {
        json!({"identifier": identifier, "hostname": "git01", "ip": "10.0.0.5", "private_key": private.as_str(),
               "public_key": public, "username": "deploy"})
    };
    let created = app.post_json(&client, "/iso/pam/key", body("key-old")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let renamed = app.post_json(&client, "/iso/pam/key", body("key-new")).await;
    assert_eq!(renamed.body["key"]["identifier"], "key-new", "{}", renamed.body);
    assert_eq!(renamed.body["key"]["id"], created.body["key"]["id"]);
    assert_eq!(app.call(&client, Method::GET, "/iso/pam/key/key-new").await.status, StatusCode::OK);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM credentials").await, 1);
}

/// A device another application registered may carry one's own credential (the credential
/// is its creator's); the device itself stays its owner's to change.
async fn credentials_on_a_device_another_application_registered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.client(&[Resource::Pam]).await;
    let tenant = app.client(&[Resource::Pam]).await;
    device(&app, &owner, "shared01").await;
    let body = json!({"username": "app", "hostname": "shared01", "ip": "10.0.0.5", "content": "mine"});
    let created = app.post_json(&tenant, "/iso/pam/credential", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["credential"]["id"].as_str().expect("id").to_owned();
    let read = app.call(&tenant, Method::GET, &format!("/iso/pam/credential/{id}")).await;
    assert_eq!(read.body["credential"]["password"], "mine", "{}", read.body);
    assert_eq!(
        app.call(&owner, Method::GET, &format!("/iso/pam/credential/{id}")).await.body["exception"]["code"],
        1009
    );
    assert_eq!(app.call(&tenant, Method::DELETE, "/iso/pam/device/shared01").await.body["exception"]["code"], 1011);
}

/// §1.6: a number where text is expected is its text; booleans come as true/false, "true",
/// 1/0 or "1"/"0". Output types stay as the contract prints them (ids as strings).
async fn lenient_types_are_taken_as_their_text(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "len01").await;
    let body = json!({"identifier": 4711, "username": "svc", "hostname": "len01", "ip": "10.0.0.5", "content": 12345,
                      "tags": ["a", 7]});
    let created = app.post_json(&client, "/iso/pam/credential", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["credential"]["identifier"], "4711");
    let id = created.body["credential"]["id"].as_str().expect("id").to_owned();
    let read = app.call(&client, Method::GET, &format!("/iso/pam/credential/{id}")).await;
    assert_eq!(read.body["credential"]["password"], "12345", "{}", read.body);
    assert_eq!(read.body["credential"]["tags"], "a,7", "{}", read.body);
    assert!(read.body["credential"]["id"].is_string());

    for (i, (enabled, active)) in
        [(json!(false), false), (json!("false"), false), (json!(0), false), (json!("0"), false), (json!("1"), true)]
            .into_iter()
            .enumerate()
    {
        let (private, public) = cofre::service::pam::rotation::generate_key("ed25519").expect("key");
        let key = json!({"hostname": "len01", "ip": "10.0.0.5", "private_key": private.as_str(), "public_key": public,
                         "username": format!("k{i}"), "enabled": enabled});
        let created = app.post_json(&client, "/iso/pam/key", key).await;
        assert_eq!(created.status, StatusCode::CREATED, "{enabled}: {}", created.body);
        let id = created.body["key"]["id"].as_str().expect("id").to_owned();
        let read = app.call(&client, Method::GET, &format!("/iso/pam/key/{id}")).await;
        let inactive = read.body["exception"]["code"] == 1017;
        assert_eq!(!inactive, active, "{enabled}: {}", read.body);
    }
}

async fn expiration_times_are_iso_8601_with_their_offset(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "exp01").await;
    for (i, (given, answered)) in [
        ("2024-05-16T17:31:31-03:00", "2024-05-16T17:31:31-03:00"),
        ("2021-01-16T17:31:39", "2021-01-16T17:31:39+00:00"),
        ("2021-01-16T17:31:39Z", "2021-01-16T17:31:39+00:00"),
    ]
    .into_iter()
    .enumerate()
    {
        let body = json!({"identifier": format!("exp-{i}"), "username": format!("u{i}"), "hostname": "exp01",
                          "ip": "10.0.0.5", "content": "pw", "expiration_time": given});
        let created = app.post_json(&client, "/iso/pam/credential", body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{given}: {}", created.body);
        let read = app.call(&client, Method::GET, &format!("/iso/pam/credential/exp-{i}")).await;
        assert_eq!(read.body["credential"]["expiration_time"], answered, "{given}: {}", read.body);
    }
    let garbage = json!({"identifier": "exp-bad", "username": "bad", "hostname": "exp01", "ip": "10.0.0.5",
                         "content": "pw", "expiration_time": "<b>next tuesday</b>"});
    let refused = app.post_json(&client, "/iso/pam/credential", garbage).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body["response"]["message"].as_str().expect("message").contains("expiration_time"));
    assert!(!refused.body.to_string().contains("tuesday"), "never echoed: {}", refused.body);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM credentials WHERE identifier = 'exp-bad'").await, 0);
}

/// Python `requests` and Java's `HttpURLConnection` write the whole body before reading the
/// answer. A client that does so with a body far over the limit reads the 413, not a reset.
async fn an_oversized_body_sent_whole_still_gets_its_413(backend: Backend) {
    use std::io::{Read, Write};
    let app = TestApp::spawn_with(backend, |c| c.body_limit = 64 * 1024).await;
    let client = app.client(&[Resource::Pam]).await;
    let (addr, token) = (app.addr, client.token.clone());
    let answer = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let body = format!("{{\"identifier\": \"big\", \"content\": \"{}\"}}", "x".repeat(16 * 1024 * 1024));
        let mut stream = std::net::TcpStream::connect(addr)?;
        write!(
            stream,
            "POST /iso/pam/info HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        stream.write_all(body.as_bytes())?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    })
    .await
    .expect("client thread");
    let answer = answer.expect("the whole body was sent and the answer read, without a reset");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"status\":413"), "the envelope: {answer}");
}

/// dsmcli registers on every run. A re-registration finds the application's authorization
/// ("Authorization found: (N)", as the contract's sample) and answers a client id and secret
/// of the run's own, which log in until they expire and are then purged: however busy the
/// pipeline, one authorization and the runs of one TTL stay live.
async fn dsm_reregistration_leaves_no_pile_of_live_credentials(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.dsm_run_credential_ttl = 3600).await;
    let registrar = app.client(&[Resource::Dsm]).await;
    let form = [("application", "ci-app"), ("system", "erp"), ("environment", "prod")];
    let first = app.send(app.authed(&registrar, Method::POST, "/iso/dapp/Application").form(&form)).await;
    let message = first.body["response"]["message"].as_str().expect("message").to_owned();
    let authorization = message.rsplit_once("Authorization created: (").expect("created").1.trim_end_matches(')');
    let login = |id: &str, secret: &str| {
        app.client.post(app.url("/iso/oauth2/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
    };
    let credentials = |reply: &crate::helpers::Reply| {
        (reply.body["id"].as_str().expect("id").to_owned(), reply.body["signature"].as_str().expect("sig").to_owned())
    };
    let (first_id, first_secret) = credentials(&first);
    let mut runs = Vec::new();
    for _ in 0..5 {
        let again = app.send(app.authed(&registrar, Method::POST, "/iso/dapp/Application").form(&form)).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.body);
        let said = again.body["response"]["message"].as_str().expect("message");
        assert!(said.starts_with("Application updated: ("), "{said}");
        assert!(said.ends_with(&format!("| Authorization found: ({authorization})")), "{said}");
        let (id, secret) = credentials(&again);
        assert_ne!(id, first_id, "a new client id, as the contract says");
        assert_eq!(app.send(login(&id, &secret)).await.status, StatusCode::OK, "the run's credentials log in");
        runs.push((id, secret));
    }
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM authorizations WHERE dsm_application_id IS NOT NULL").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM run_credentials").await, 5);

    app.clock.advance_secs(3601);
    for (id, secret) in &runs {
        assert_eq!(app.send(login(id, secret)).await.status, StatusCode::UNAUTHORIZED, "expired run credential");
    }
    assert_eq!(app.send(login(&first_id, &first_secret)).await.status, StatusCode::OK);
    let purged = cofre::service::auth::purge::purge_expired(&app.state.core).await.expect("purge");
    assert_eq!(purged.run_credentials, 5);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM run_credentials").await, 0);
}
