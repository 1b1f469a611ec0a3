//! A policy assignment applies whole or not at all (issue 12): recording it and rescheduling the
//! credentials it concerns are one transaction. A fault injected into the second step (a
//! trigger refusing one credential's update) must leave no trace of the first.

use cofre::domain::authorization::Resource;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, Client, TestApp};
use crate::on_both_stores;
use crate::pam::device;

on_both_stores!(a_failed_reschedule_undoes_the_whole_assignment);

/// Makes any update of credential `id` fail.
async fn inject_fault(app: &TestApp, id: i64) {
    let pool = app.state.core.store.pool();
    let statements = match app.state.core.store.backend() {
        cofre::store::Backend::Sqlite => vec![format!(
            "CREATE TRIGGER inject_fault BEFORE UPDATE ON credentials WHEN NEW.id = {id} \
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
        )],
        cofre::store::Backend::Postgres => vec![
            "CREATE FUNCTION inject_fault() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$"
                .to_owned(),
            format!(
                "CREATE TRIGGER inject_fault BEFORE UPDATE ON credentials FOR EACH ROW WHEN (NEW.id = {id}) \
                 EXECUTE FUNCTION inject_fault()"
            ),
        ],
    };
    for sql in statements {
        sqlx::query(&sql).execute(pool).await.expect("fault installed");
    }
}

async fn remove_fault(app: &TestApp) {
    let pool = app.state.core.store.pool();
    let statements = match app.state.core.store.backend() {
        cofre::store::Backend::Sqlite => vec!["DROP TRIGGER inject_fault"],
        cofre::store::Backend::Postgres => {
            vec!["DROP TRIGGER inject_fault ON credentials", "DROP FUNCTION inject_fault()"]
        }
    };
    for sql in statements {
        sqlx::query(sql).execute(pool).await.expect("fault removed");
    }
}

/// (next rotation, revision) of every credential, by id.
async fn schedules(app: &TestApp) -> Vec<(i64, Option<i64>, i64)> {
    sqlx::query_as("SELECT id, next_rotation_at, revision FROM credentials ORDER BY id")
        .fetch_all(app.state.core.store.pool())
        .await
        .expect("credentials")
}

async fn assignments(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as("SELECT target_kind, target FROM policy_assignments ORDER BY target_kind, target")
        .fetch_all(app.state.core.store.pool())
        .await
        .expect("assignments")
}

async fn assign(app: &TestApp, admin: &Client, policy: &str) -> crate::helpers::Reply {
    app.post_json(admin, "/api/admin/password-policies/assign", json!({"policy": policy, "device": "atom01"})).await
}

fn assert_refused_without_detail(reply: &crate::helpers::Reply) {
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", reply.body);
    assert_eq!(reply.body["response"]["message"], "Unexpected error.");
    assert!(!reply.body.to_string().contains("injected"), "no internal text: {}", reply.body);
}

async fn a_failed_reschedule_undoes_the_whole_assignment(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pam = app.client(&[Resource::Pam]).await;
    let admin = app.client(&[Resource::Admin]).await;
    device(&app, &pam, "atom01").await;
    for user in ["first", "second", "last"] {
        let body = json!({"username": user, "hostname": "atom01", "ip": "10.0.0.5", "content": "p"});
        assert_eq!(app.post_json(&pam, "/iso/pam/credential", body).await.status, StatusCode::CREATED);
    }
    let reply = app
        .post_json(&admin, "/api/admin/password-policies", json!({"name": "hourly", "rotation_interval": "3600"}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let before = schedules(&app).await;
    assert!(before.iter().all(|(_, next, _)| next.is_none()));
    let last = before.last().expect("three credentials").0;

    // The last credential's update fails: the others were rescheduled first (the code before
    // issue 12 kept both them and the assignment).
    inject_fault(&app, last).await;
    assert_refused_without_detail(&assign(&app, &admin, "hourly").await);
    assert_eq!(assignments(&app).await, Vec::<(String, String)>::new(), "the assignment was not recorded");
    assert_eq!(schedules(&app).await, before, "no credential was rescheduled");

    remove_fault(&app).await;
    assert_eq!(assign(&app, &admin, "hourly").await.status, StatusCode::OK);
    let assigned = schedules(&app).await;
    let rescheduled = assigned.iter().zip(&before).all(|(now, was)| now.1.is_some() && now.2 == was.2 + 1);
    assert!(rescheduled, "{assigned:?}");
    let recorded = assignments(&app).await;
    assert_eq!(recorded.len(), 1);

    // Removing it fails the same way: it stays, and so do the schedules it set.
    inject_fault(&app, last).await;
    assert_refused_without_detail(&assign(&app, &admin, "").await);
    assert_eq!(assignments(&app).await, recorded, "the assignment is still there");
    assert_eq!(schedules(&app).await, assigned, "no schedule was cleared");
    remove_fault(&app).await;
    assert_eq!(assign(&app, &admin, "").await.status, StatusCode::OK);
    assert!(schedules(&app).await.iter().all(|(_, next, _)| next.is_none()));
}
