//! Rotation that cannot run away: policies that could never produce a password, or whose numbers
//! overflow, are refused; a bad policy stored by an older release fails its own credential and
//! not the scheduler; each credential is claimed on its own, just before it is changed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use cofre::clock::Clock;
use cofre::domain::authorization::Resource;
use cofre::domain::pam::Policy;
use cofre::service::pam::policies;
use cofre::service::pam::rotation::{ChangeTarget, SecretChanger, run_due};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;
use tokio::sync::Semaphore;

use crate::helpers::{Backend, Client, TestApp};
use crate::on_both_stores;
use crate::pam::device;

on_both_stores!(
    policies_that_cannot_work_are_refused,
    a_broken_policy_never_stops_the_scheduler,
    each_rotation_claims_only_its_own_credential
);

fn hourly(name: &str) -> Policy {
    Policy {
        id: 0,
        name: name.into(),
        length: 16,
        lowercase: 1,
        uppercase: 1,
        digits: 1,
        symbols: -1,
        exclude: String::new(),
        key_algorithm: "ed25519".into(),
        rotation_interval: Some(3600),
        rotate_after_custody: false,
    }
}

/// Accepts every change, but each one waits for a permit.
struct Gated(Arc<Semaphore>);

impl SecretChanger for Gated {
    fn change<'a>(
        &'a self,
        _target: &'a ChangeTarget,
        _new_secret: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            self.0.acquire().await.map_err(|e| e.to_string())?.forget();
            Ok(())
        })
    }
}

struct Accept;

impl SecretChanger for Accept {
    fn change<'a>(
        &'a self,
        _target: &'a ChangeTarget,
        _new_secret: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async { Ok(()) })
    }
}

async fn credential(app: &TestApp, client: &Client, username: &str, hostname: &str) {
    let body = json!({"username": username, "hostname": hostname, "ip": "10.0.0.5", "content": "initial"});
    let reply = app.post_json(client, "/iso/pam/credential", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

async fn policies_that_cannot_work_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.client(&[Resource::Admin]).await;
    let digits_only = json!({"lowercase": -1, "uppercase": -1, "symbols": -1, "digits": 0});
    for (name, mut body) in [
        ("no usable character", digits_only.clone()),
        ("a required class all excluded", json!({"digits": 2})),
        ("an interval that overflows", json!({"rotation_interval": "9223372036854775807"})),
        (
            "a minimum that overflows",
            json!({"lowercase": 9_223_372_036_854_775_807_i64, "uppercase": 9_223_372_036_854_775_807_i64}),
        ),
    ] {
        body["name"] = name.into();
        if body.get("digits").is_some() {
            body["exclude"] = "0123456789".into();
        }
        let reply = app.post_json(&admin, "/api/admin/password-policies", body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}: {}", reply.body);
    }
    let listed = app.send(app.authed(&admin, reqwest::Method::GET, "/api/admin/password-policies")).await;
    assert_eq!(listed.body["policies"], json!([]), "nothing was stored");
}

async fn a_broken_policy_never_stops_the_scheduler(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let core = &app.state.core;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "bad01").await;
    device(&app, &client, "good01").await;
    credential(&app, &client, "svc", "bad01").await;
    credential(&app, &client, "svc", "good01").await;
    // A policy an older release accepted: digits only, every digit excluded.
    let broken = Policy { lowercase: -1, uppercase: -1, digits: 0, exclude: "0123456789".into(), ..hourly("broken") };
    core.store.insert_policy(&broken, app.clock.now()).await.expect("stored as an older release would");
    policies::assign(core, Some("broken"), "device", "bad01").await.expect("assign");
    policies::create(core, hourly("good")).await.expect("policy");
    policies::assign(core, Some("good"), "device", "good01").await.expect("assign");
    app.clock.advance_secs(3601);

    let report = run_due(core, &app.state.audit, &Accept).await.expect("the pass completes");
    assert_eq!((report.rotated.len(), report.failed.len()), (1, 1), "{report:?}");
    let error = core.store.rotation_error(report.failed[0]).await.expect("row");
    assert!(error.contains("no character"), "{error}");
}

async fn each_rotation_claims_only_its_own_credential(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client(&[Resource::Pam]).await;
    device(&app, &client, "lease01").await;
    for user in ["a", "b", "c"] {
        credential(&app, &client, user, "lease01").await;
    }
    policies::create(&app.state.core, hourly("lease")).await.expect("policy");
    policies::assign(&app.state.core, Some("lease"), "device", "lease01").await.expect("assign");
    app.clock.advance_secs(3601);

    let permits = Arc::new(Semaphore::new(0));
    let state = app.state.clone();
    let gate = Gated(permits.clone());
    let pass = tokio::spawn(async move { run_due(&state.core, &state.audit, &gate).await.map(|r| r.rotated.len()) });
    // While the first change is under way, the others are still free for another process.
    let leased = || async {
        let rows = sqlx::query("SELECT rotation_lease FROM credentials")
            .fetch_all(app.state.core.store.pool())
            .await
            .expect("leases");
        rows.iter().filter(|r| r.try_get::<i64, _>("rotation_lease").expect("lease") > 0).count()
    };
    let mut waited = 0;
    while leased().await == 0 && waited < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        waited += 1;
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(leased().await, 1, "one credential is claimed at a time");
    permits.add_permits(3);
    assert_eq!(pass.await.expect("task").expect("pass"), 3);
}
