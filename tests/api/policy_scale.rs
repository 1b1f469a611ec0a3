//! Rescheduling after a policy assignment, at scale (issue 12): every credential's effective
//! policy comes from one query and the schedules are written in batches, with the precedence
//! unchanged: the credential's own policy, else its device's, else that of the first of its
//! tags (in the order it lists them) that has one. Checked row by row over 2,000 credentials.

use cofre::domain::authorization::Resource;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;
use crate::pam::device;

on_both_stores!(every_credential_gets_its_most_specific_policy);

const CREDENTIALS: usize = 2000;
const DEVICES: usize = 10;
/// Spaces, case, substrings that are not tags, and tags in either order.
const TAGS: [&str; 10] = ["", "a", "b", "a,b", " b , a", "x,b", "A", "ab", "c,a", "b,c"];
/// (name, rotation interval): "manual" has no schedule, and still wins where it applies.
const POLICIES: [(&str, Option<i64>); 5] =
    [("own", Some(1000)), ("device", Some(2000)), ("tag-a", Some(3000)), ("tag-b", Some(4000)), ("manual", None)];

struct Seeded {
    index: usize,
    device: usize,
    tags: &'static str,
    changed_at: i64,
    initial: Option<i64>,
}

/// The rules, written out independently of the server's code.
fn expected(c: &Seeded) -> Option<i64> {
    let interval = |name: &str| POLICIES.iter().find(|(n, _)| *n == name).and_then(|(_, i)| *i);
    let policy = if c.index % 7 == 0 {
        Some("own")
    } else if c.device == 1 {
        Some("device")
    } else if c.device == 2 {
        Some("manual")
    } else {
        c.tags.split(',').map(str::trim).find_map(|t| match t {
            "a" => Some("tag-a"),
            "b" => Some("tag-b"),
            "c" => Some("manual"),
            _ => None,
        })
    };
    policy.and_then(interval).map(|i| c.changed_at + i)
}

async fn every_credential_gets_its_most_specific_policy(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pool = app.state.core.store.pool();
    let pam = app.client(&[Resource::Pam]).await;
    let admin = app.client(&[Resource::Admin]).await;
    let mut devices = Vec::new();
    for d in 0..DEVICES {
        let created = device(&app, &pam, &format!("scale{d:02}")).await;
        devices.push(created["id"].as_str().expect("device id").parse::<i64>().expect("numeric"));
    }
    let mut policy_ids = std::collections::HashMap::new();
    for (name, interval) in POLICIES {
        let mut body = json!({"name": name});
        if let Some(i) = interval {
            body["rotation_interval"] = i.to_string().into();
        }
        let reply = app.post_json(&admin, "/api/admin/password-policies", body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let id: i64 = reply.body["policy"]["id"].as_str().expect("id").parse().expect("numeric");
        policy_ids.insert(name, id);
    }

    // 2,000 credentials straight into the table; every (device, tags) pair occurs.
    let base = app.state.core.now() - 100_000;
    let mut seeded = Vec::new();
    let mut tx = pool.begin().await.expect("tx");
    for index in 0..CREDENTIALS {
        let mut c = Seeded {
            index,
            device: index % DEVICES,
            tags: TAGS[(index / DEVICES) % TAGS.len()],
            changed_at: base + i64::try_from(index).expect("small"),
            initial: None,
        };
        // Some already hold their due time (they must not be written), some a wrong one.
        c.initial = match index % 5 {
            0 => expected(&c),
            1 => Some(1),
            _ => None,
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO credentials (uid, identifier, kind, device_id, username, tags, credential_type, changed_at, \
             next_rotation_at, created_by, created_at, updated_at) \
             VALUES ($1, $2, 'password', $3, $4, $5, 'local', $6, $7, $8, $9, $9) RETURNING id",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(format!("scale-{index}"))
        .bind(devices[c.device])
        .bind(format!("u{index}"))
        .bind(c.tags)
        .bind(c.changed_at)
        .bind(c.initial)
        .bind(pam.app.authorization_id)
        .bind(base)
        .fetch_one(&mut *tx)
        .await
        .expect("credential");
        if index % 7 == 0 {
            assign_directly(&mut tx, "credential", &id.to_string(), policy_ids["own"]).await;
        }
        seeded.push((id, c));
    }
    assign_directly(&mut tx, "device", &devices[1].to_string(), policy_ids["device"]).await;
    assign_directly(&mut tx, "device", &devices[2].to_string(), policy_ids["manual"]).await;
    assign_directly(&mut tx, "tag", "a", policy_ids["tag-a"]).await;
    assign_directly(&mut tx, "tag", "c", policy_ids["manual"]).await;
    tx.commit().await.expect("seeded");

    // The last assignment through the admin route, which reschedules every credential.
    let reply =
        app.post_json(&admin, "/api/admin/password-policies/assign", json!({"policy": "tag-b", "tag": "b"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let rows: Vec<(i64, Option<i64>, i64)> =
        sqlx::query_as("SELECT id, next_rotation_at, revision FROM credentials ORDER BY id")
            .fetch_all(pool)
            .await
            .expect("credentials");
    assert_eq!(rows.len(), CREDENTIALS);
    let mut rescheduled = 0;
    for ((id, next, revision), (seeded_id, c)) in rows.iter().zip(&seeded) {
        assert_eq!(id, seeded_id);
        let want = expected(c);
        assert_eq!(
            *next,
            want,
            "credential {} (device {}, tags {:?}, own policy {})",
            c.index,
            c.device,
            c.tags,
            c.index % 7 == 0
        );
        let written = c.initial != want;
        assert_eq!(*revision, i64::from(written), "credential {} is written only if its schedule changed", c.index);
        rescheduled += usize::from(written);
    }
    assert!(rescheduled > CREDENTIALS / 2 && rescheduled < CREDENTIALS, "{rescheduled} rescheduled");
}

async fn assign_directly(tx: &mut sqlx::Transaction<'_, sqlx::Any>, kind: &str, target: &str, policy: i64) {
    sqlx::query("INSERT INTO policy_assignments (target_kind, target, policy_id) VALUES ($1, $2, $3)")
        .bind(kind)
        .bind(target)
        .bind(policy)
        .execute(&mut **tx)
        .await
        .expect("assignment");
}
