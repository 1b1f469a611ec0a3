//! Drops of one session (issue 32, item 12). A drop of a held session only marks it; its holder
//! ends the row at its next poll (within half a second). Before, a second drop in between found
//! the row still open and answered 200 again, and concurrent drops each did. Now the mark is the
//! drop: once one is accepted, every later or concurrent drop answers the contract's 500
//! "An error occurred while droping session", and the row ends once.

use std::net::IpAddr;

use cofre::domain::sessions::EndReason;
use cofre::service::sessions::proxy;
use reqwest::{Method, StatusCode};

use crate::helpers::{Backend, Client, Reply, TestApp, error_envelope, success_block};
use crate::on_both_stores;
use crate::session_tickets::{entry_code, fixture, redeem, token};
use crate::write_races::count;

on_both_stores!(
    a_second_drop_of_a_held_session_is_refused,
    concurrent_drops_of_a_held_session_accept_exactly_one,
    concurrent_drops_of_an_unheld_session_accept_exactly_one,
);

/// §8's answer to a drop of a session that is not live.
const NOT_LIVE: &str = "An error occurred while droping session";
const HOLDER: &str = "another-process";
const DROPS: usize = 16;

/// A redeemed session (not entered: no holder): its id.
async fn redeemed(app: &TestApp, client: &Client) -> (String, String) {
    let token = token(app, client).await;
    entry_code(app, &redeem(app, &token).await)
}

/// A session entered and held by another live process that has not polled since: a drop waits
/// for that holder to end the row, as one does for up to half a second in real life.
async fn held_elsewhere(app: &TestApp, client: &Client) -> String {
    let (id, code) = redeemed(app, client).await;
    let (core, audit) = (&app.state.core, &app.state.audit);
    let loopback: IpAddr = "127.0.0.1".parse().expect("ip");
    proxy::enter(core, audit, &code, &id, loopback).await.expect("entered");
    sqlx::query("UPDATE remote_sessions SET owner = $1, owner_seen_at = $2 WHERE session_id = $3")
        .bind(HOLDER)
        .bind(core.now())
        .bind(&id)
        .execute(core.store.pool())
        .await
        .expect("held elsewhere");
    id
}

fn assert_accepted(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["response"], success_block(200, "Sessão interrompida com sucesso"));
}

fn assert_not_live(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", reply.body);
    assert_eq!(reply.body, error_envelope(500, 500, NOT_LIVE));
}

/// How many `event` audit records the session has.
async fn events(app: &TestApp, session_id: &str, event: &str) -> i64 {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM audit_log WHERE method = 'SESSION' AND detail LIKE '%\"event\":\"{event}\"%' \
         AND detail LIKE '%{session_id}%'"
    );
    count(app, &sql).await
}

async fn drop_concurrently(app: &TestApp, client: &Client, session_id: &str) -> Vec<Reply> {
    let path = format!("/iso/session/drop/{session_id}");
    futures_util::future::join_all((0..DROPS).map(|_| app.call(client, Method::DELETE, &path))).await
}

/// Exactly one accepted; each other answered the contract's 500.
fn assert_exactly_one_accepted(replies: &[Reply]) {
    let accepted: Vec<&Reply> = replies.iter().filter(|r| r.status == StatusCode::OK).collect();
    assert_eq!(accepted.len(), 1, "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    assert_accepted(accepted[0]);
    replies.iter().filter(|r| r.status != StatusCode::OK).for_each(assert_not_live);
}

async fn a_second_drop_of_a_held_session_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = fixture(&app).await;
    let (core, audit) = (&app.state.core, &app.state.audit);
    let id = held_elsewhere(&app, &client).await;
    let path = format!("/iso/session/drop/{id}");

    assert_accepted(&app.call(&client, Method::DELETE, &path).await);
    // The holder has not ended the row yet: the session is ended for every later drop all the same.
    let row = core.store.remote_session_by_session_id(&id).await.expect("read").expect("row");
    assert!(row.ended_at.is_none() && row.drop_requested);
    assert_not_live(&app.call(&client, Method::DELETE, &path).await);
    // The admin API and the CLI go through the same drop: refused too (the admin API's own 404).
    let admin = app.client(&[cofre::domain::authorization::Resource::Admin]).await;
    let again = app.call(&admin, Method::POST, &format!("/api/admin/sessions/{id}/drop")).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.body);

    // The holder's poll names it; it ends the row, once.
    assert_eq!(proxy::drop_requested(core, HOLDER).await.expect("poll"), vec![id.clone()]);
    assert!(proxy::end(core, audit, &id, EndReason::Dropped).await.expect("ended"));
    assert!(!proxy::end(core, audit, &id, EndReason::Dropped).await.expect("once"));
    assert_not_live(&app.call(&client, Method::DELETE, &path).await);
    assert_eq!((events(&app, &id, "drop").await, events(&app, &id, "end").await), (1, 1));
}

async fn concurrent_drops_of_a_held_session_accept_exactly_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = fixture(&app).await;
    let (core, audit) = (&app.state.core, &app.state.audit);
    let id = held_elsewhere(&app, &client).await;

    assert_exactly_one_accepted(&drop_concurrently(&app, &client, &id).await);
    assert_eq!(events(&app, &id, "drop").await, 1, "one drop audited");
    assert_eq!(proxy::drop_requested(core, HOLDER).await.expect("poll"), vec![id.clone()]);
    assert!(proxy::end(core, audit, &id, EndReason::Dropped).await.expect("ended"));
    let row = core.store.remote_session_by_session_id(&id).await.expect("read").expect("row");
    assert_eq!(row.end_reason.as_deref(), Some("dropped"));
    assert_eq!(events(&app, &id, "end").await, 1, "the row ended once");
}

/// A session no process holds is ended by the accepted drop itself: once.
async fn concurrent_drops_of_an_unheld_session_accept_exactly_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = fixture(&app).await;
    let (id, _) = redeemed(&app, &client).await;

    assert_exactly_one_accepted(&drop_concurrently(&app, &client, &id).await);
    let row = app.state.core.store.remote_session_by_session_id(&id).await.expect("read").expect("row");
    assert_eq!(row.end_reason.as_deref(), Some("dropped"));
    assert!(row.ended_at.is_some());
    assert_eq!((events(&app, &id, "drop").await, events(&app, &id, "end").await), (1, 1));
}
