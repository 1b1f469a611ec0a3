//! SCIM lists at scale: 50,000 users listed page by page, each exactly once, filtered and sorted
//! in the store, while the server's memory stays flat — no request loads the whole table.

use std::collections::HashSet;

use cofre::clock::Clock as _;
use cofre::domain::authorization::Resource;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Client, TestApp};
use crate::on_both_stores;

on_both_stores!(fifty_thousand_users_page_in_bounded_memory, store_filters_agree_with_document_filters);

const USERS: usize = 50_000;
/// Rows per INSERT: 8 values each stays under SQLite's limit on bound parameters.
const INSERT_BATCH: usize = 500;
/// How much the server's resident memory may grow while listing. Loading the 50,000 users with
/// their JSON documents (about 600 bytes each) takes several times this.
const MAX_GROWTH_KIB: u64 = 64 * 1024;

/// Set in the process that runs the measured test alone.
const ALONE: &str = "COFRE_TEST_SCIM_PAGING_ALONE";

/// The `VmRSS:` or `VmHWM:` of /proc/self/status, in KiB (the server runs in this process).
fn memory_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("a number of KiB")
}

/// Resets the process's peak RSS (`VmHWM`), where the kernel allows it.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A few hundred bytes of SCIM document per user, as a provisioning system would leave.
fn document(i: usize) -> String {
    json!({
        "userName": format!("U{i:05}"),
        "name": {"givenName": format!("Given{i}"), "familyName": format!("Family{}", i % 100)},
        "displayName": format!("Given{i} Family{}", i % 100),
        "title": format!("Engineer grade {} of the department of long titles, {}", i % 9, "x".repeat(120)),
        "emails": [{"value": format!("u{i:05}@example.com"), "type": "work", "primary": true},
                   {"value": format!("u{i:05}@home.example"), "type": "home"}],
        "active": true,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
            {"employeeNumber": i.to_string(), "department": format!("dept{}", i % 7), "costCenter": format!("cc-{}", i % 13)},
    })
    .to_string()
}

/// Inserts the users straight into the store, many rows per statement, in one transaction.
async fn insert_users(app: &TestApp) {
    let now = app.clock.now();
    let mut tx = app.state.core.store.pool().begin().await.expect("transaction");
    for start in (0..USERS).step_by(INSERT_BATCH) {
        let rows: Vec<String> = (0..INSERT_BATCH)
            .map(|r| {
                let p = r * 6;
                format!("(${}, NULL, 1, ${}, ${}, 1, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4, p + 5, p + 6)
            })
            .collect();
        let sql = format!(
            "INSERT INTO users (username, password_hash, enabled, external_id, scim, version, created_at, updated_at, display_name) VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for i in start..start + INSERT_BATCH {
            let created = now - i64::try_from(USERS - i).expect("small");
            query = query
                .bind(format!("u{i:05}"))
                .bind(format!("ext-{i:05}"))
                .bind(document(i))
                .bind(created)
                .bind(created)
                .bind(String::new());
        }
        query.execute(&mut *tx).await.expect("users inserted");
    }
    tx.commit().await.expect("committed");
}

async fn get(app: &TestApp, client: &Client, query: &[(&str, &str)]) -> (StatusCode, Value) {
    list(app, client, "/scim/v2/Users", query).await
}

async fn list(app: &TestApp, client: &Client, path: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
    let reply = app.send(app.authed(client, Method::GET, path).query(query)).await;
    (reply.status, reply.body)
}

fn user_names(body: &Value) -> Vec<&str> {
    body["Resources"].as_array().expect("Resources").iter().map(|r| r["userName"].as_str().expect("userName")).collect()
}

async fn fifty_thousand_users_page_in_bounded_memory(backend: Backend) {
    if std::env::var_os(ALONE).is_none() {
        // RSS belongs to the whole process and the suite runs many tests at once (each hashing
        // passwords with 19 MiB), so the measurement runs alone in a process of its own: this
        // test binary, filtered to this test.
        let store = if matches!(backend, Backend::Sqlite) { "sqlite" } else { "postgres" };
        let name = format!("scim_paging::fifty_thousand_users_page_in_bounded_memory::{store}");
        let out = tokio::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
            .env(ALONE, "1")
            .output()
            .await
            .expect("the test runs alone");
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        eprintln!("{}", stderr.lines().filter(|l| l.starts_with("scim_paging:")).collect::<Vec<_>>().join("\n"));
        assert!(out.status.success() && stdout.contains("1 passed"), "{stdout}\n{stderr}");
        return;
    }
    let app = TestApp::spawn(backend).await;
    let iga = app.client(&[Resource::Scim]).await;
    let (_, before) = get(&app, &iga, &[("count", "0")]).await;
    assert_eq!(before["totalResults"], 0, "no users yet");
    insert_users(&app).await;
    let total = u64::try_from(USERS).expect("small");

    let rss_before = memory_kib("VmRSS:");
    let peak_reset = reset_peak();
    let mut rss_max = rss_before;
    let mut samples = Vec::new();
    let mut seen = HashSet::new();
    let mut start = 1;
    let mut pages = 0;
    while start <= total {
        let (status, body) = get(&app, &iga, &[("count", "1000"), ("startIndex", &start.to_string())]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["totalResults"].as_u64(), Some(total));
        assert_eq!(body["startIndex"].as_u64(), Some(start));
        let items = body["Resources"].as_array().expect("Resources");
        assert_eq!(body["itemsPerPage"].as_u64(), Some(items.len() as u64));
        assert_eq!(items.len() as u64, (total - start + 1).min(200), "pages are capped at maxResults (200)");
        for item in items {
            let id = item["id"].as_str().expect("id").to_owned();
            assert!(seen.insert(id), "user {} listed twice", item["userName"]);
        }
        start += items.len() as u64;
        pages += 1;
        let rss = memory_kib("VmRSS:");
        if pages == 1 || pages % 50 == 0 {
            samples.push(format!("page {pages}: {rss}"));
        }
        rss_max = rss_max.max(rss);
    }
    let peak = if peak_reset { memory_kib("VmHWM:") } else { rss_max };
    eprintln!(
        "scim_paging: {pages} pages; VmRSS (KiB) before {rss_before}, {}; highest {rss_max}; peak {peak} \
         (reset: {peak_reset})",
        samples.join(", ")
    );
    assert_eq!(seen.len() as u64, total, "every user listed exactly once");
    let growth = rss_max.max(peak).saturating_sub(rss_before);
    assert!(growth < MAX_GROWTH_KIB, "listing grew the server's memory by {growth} KiB (limit {MAX_GROWTH_KIB})");

    // Filters and sorting on columns are the store's: totals are right and pages are in order.
    let (status, body) =
        get(&app, &iga, &[("filter", r#"userName sw "u1""#), ("sortBy", "userName"), ("count", "3")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 10_000, "u10000 to u19999");
    assert_eq!(user_names(&body), ["U10000", "U10001", "U10002"]);
    let (_, body) = get(
        &app,
        &iga,
        &[("filter", r#"userName sw "U1""#), ("sortBy", "userName"), ("sortOrder", "descending"), ("count", "2")],
    )
    .await;
    assert_eq!((body["totalResults"].as_u64(), user_names(&body)), (Some(10_000), vec!["U19999", "U19998"]));
    let (_, body) = get(
        &app,
        &iga,
        &[("sortBy", "meta.created"), ("sortOrder", "descending"), ("startIndex", "2"), ("count", "2")],
    )
    .await;
    assert_eq!((body["totalResults"].as_u64(), user_names(&body)), (Some(total), vec!["U49998", "U49997"]));
    let (_, body) = get(
        &app,
        &iga,
        &[("filter", r#"(externalId eq "ext-00042" or userName eq "u00043") and not (active eq false)"#)],
    )
    .await;
    assert_eq!(user_names(&body), ["U00042", "U00043"]);
    let (_, body) = get(&app, &iga, &[("filter", r#"userName co "%" or userName co "_""#)]).await;
    assert_eq!(body["totalResults"], 0, "% and _ are not wildcards");
    let (_, body) = get(&app, &iga, &[("filter", r#"userName ew "999""#), ("count", "0")]).await;
    assert_eq!(body["totalResults"], 50, "u00999, u01999, … u49999");

    // A filter on the JSON document alone is examined row by row: within the bound it answers,
    // narrowed by the columns it also names; beyond it, 400 tooMany.
    let (status, body) = get(&app, &iga, &[("filter", r#"userName sw "u1" and name.givenName eq "given12345""#)]).await;
    assert_eq!((status, user_names(&body)), (StatusCode::OK, vec!["U12345"]), "{body}");
    let (status, body) = get(&app, &iga, &[("filter", r#"emails.value eq "u00007@example.com""#)]).await;
    assert_eq!((status, body["scimType"].as_str()), (StatusCode::BAD_REQUEST, Some("tooMany")), "{body}");
    let (status, body) = get(&app, &iga, &[("sortBy", "name.givenName")]).await;
    assert_eq!((status, body["scimType"].as_str()), (StatusCode::BAD_REQUEST, Some("tooMany")), "{body}");
}

async fn post(app: &TestApp, client: &Client, path: &str, body: Value) -> Value {
    app.clock.advance_secs(7);
    let reply = app.post_json(client, &format!("/scim/v2{path}"), body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

fn ids(body: &Value) -> Vec<String> {
    body["Resources"].as_array().expect("Resources").iter().map(|r| r["id"].as_str().expect("id").to_owned()).collect()
}

/// Column filters and sorts run in SQL, others over the documents: the two must agree. Each
/// filter is asked as it is (SQL) and or-ed with a value path that matches nothing (which only
/// the document evaluation can answer), over users and groups with absent, empty, odd and
/// mixed-case values.
async fn store_filters_agree_with_document_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let iga = app.client(&[Resource::Scim]).await;
    let user = |name: &str, external: Option<&str>, active: Option<bool>| {
        let mut doc = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
                             "emails": [{"value": format!("{name}@example.com"), "type": "work"}]});
        if let Some(e) = external {
            doc["externalId"] = json!(e);
        }
        if let Some(a) = active {
            doc["active"] = json!(a);
        }
        doc
    };
    let mut user_ids = Vec::new();
    for (name, external, active) in [
        ("Alice", Some("ext-A"), None),
        ("bob", Some("ext-b"), Some(false)),
        ("carol_1", Some(""), Some(true)),
        ("dave%", None, Some(true)),
        ("Éric", Some("EXT-é"), None),
        ("mallory", Some("ext-m"), Some(true)),
    ] {
        user_ids.push(
            post(&app, &iga, "/Users", user(name, external, active)).await["id"].as_str().expect("id").to_owned(),
        );
    }
    // Mallory is replaced without `active`: her JSON no longer shows it, though she is enabled.
    app.clock.advance_secs(3);
    let replaced = app
        .send(app.authed(&iga, Method::PUT, &format!("/scim/v2/Users/{}", user_ids[5])).json(&user(
            "mallory",
            Some("ext-m"),
            None,
        )))
        .await;
    assert_eq!((replaced.status, replaced.body.get("active")), (StatusCode::OK, None), "{}", replaced.body);
    // A user cofre made itself: no SCIM document, no external id.
    let now = app.clock.now();
    sqlx::query("INSERT INTO users (username, enabled, created_at, updated_at) VALUES ('plain', 0, $1, $1)")
        .bind(now)
        .execute(app.state.core.store.pool())
        .await
        .expect("plain user");
    for (name, external, members) in [
        ("Ops", Some("g-1"), vec![0, 1]),
        ("dev", None, vec![2]),
        ("Équipe", Some(""), vec![]),
        ("admins_all", Some("g-2"), vec![0, 3, 5]),
    ] {
        let members: Vec<Value> = members.iter().map(|i: &usize| json!({"value": user_ids[*i]})).collect();
        let mut doc = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members});
        if let Some(e) = external {
            doc["externalId"] = json!(e);
        }
        post(&app, &iga, "/Groups", doc).await;
    }
    let (_, all) = list(&app, &iga, "/scim/v2/Users", &[("sortBy", "meta.created")]).await;
    let created: Vec<String> = all["Resources"]
        .as_array()
        .expect("users")
        .iter()
        .map(|r| r["meta"]["created"].as_str().expect("created").to_owned())
        .collect();
    let modified = all["Resources"][5]["meta"]["lastModified"].as_str().expect("lastModified").to_owned();
    let (id1, id3) = (&user_ids[1], &user_ids[3]);

    let mut user_filters: Vec<String> = [
        r#"userName eq "alice""#,
        r#"userName eq "ALICE""#,
        r#"userName ne "alice""#,
        r#"userName co "L""#,
        r#"userName sw "a""#,
        r#"userName ew "%""#,
        r#"userName co "_""#,
        r#"userName co "%""#,
        r#"userName sw "c_""#,
        r#"userName gt "bob""#,
        r#"userName ge "bob""#,
        r#"userName lt "c""#,
        r#"userName le "carol_1""#,
        r#"userName gt "é""#,
        r#"userName sw "É""#,
        "userName pr",
        "userName eq null",
        "userName ne null",
        "userName eq 5",
        "userName ne 5",
        r#"externalId eq "ext-A""#,
        r#"externalId eq "ext-a""#,
        r#"externalId ne "ext-A""#,
        "externalId pr",
        "externalId eq null",
        "externalId ne null",
        r#"externalId eq """#,
        r#"externalId ne """#,
        r#"externalId co "EXT""#,
        r#"externalId sw "ext-""#,
        r#"externalId ew "b""#,
        r#"externalId gt "ext-b""#,
        r#"externalId le "ext-b""#,
        r#"not (externalId sw "ext")"#,
        "id pr",
        r#"id sw "1""#,
        r#"id gt "3""#,
        "id eq 1",
        "active eq true",
        "active eq false",
        "active ne true",
        "active ne false",
        "active pr",
        "not (active pr)",
        "active eq null",
        r#"active eq "true""#,
        "active gt true",
        "not (active eq true)",
        r#"meta.created pr"#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob""#,
        r#"USERNAME Eq "Bob""#,
        r#"(userName sw "a" or externalId pr) and not (active eq false)"#,
        r#"not (userName eq "bob" or externalId eq null)"#,
        r#"title pr or userName eq "plain""#,
    ]
    .iter()
    .map(|f| (*f).to_owned())
    .collect();
    user_filters.extend([
        format!(r#"id eq "{id1}""#),
        format!(r#"id ne "{id1}""#),
        format!(r#"id eq "0{id1}""#),
        format!(r#"id le "{id3}""#),
        format!(r#"meta.lastModified eq "{modified}""#),
        format!(r#"meta.lastModified ne "{modified}""#),
        format!(r#"meta.lastModified gt "{modified}""#),
    ]);
    for op in ["eq", "ne", "gt", "ge", "lt", "le"] {
        user_filters.push(format!(r#"meta.created {op} "{}""#, created[2]));
    }
    let group_filters = [
        r#"displayName eq "ops""#,
        r#"displayName ne "OPS""#,
        r#"displayName co "D""#,
        r#"displayName sw "a""#,
        r#"displayName ew "_ALL""#,
        r#"displayName gt "dev""#,
        r#"displayName lt "e""#,
        r#"displayName eq "équipe""#,
        "displayName pr",
        r#"externalId eq "g-1""#,
        "externalId pr",
        "externalId eq null",
        r#"externalId eq """#,
        r#"userName eq "alice""#,
        "title pr",
        r#"not (nickName eq "x")"#,
        "nickName eq null",
        "meta.lastModified pr",
        r#"id gt "0""#,
        r#"displayName eq "ops" or externalId ew "2""#,
    ];
    for (path, filters, nothing) in [
        ("/scim/v2/Users", user_filters.iter().map(String::as_str).collect::<Vec<_>>(), r#"emails[value eq "none"]"#),
        ("/scim/v2/Groups", group_filters.to_vec(), r#"members[value eq "none"]"#),
    ] {
        for filter in filters {
            let (status, sql) = list(&app, &iga, path, &[("filter", filter)]).await;
            assert_eq!(status, StatusCode::OK, "{filter}: {sql}");
            let scanned_filter = format!("({filter}) or {nothing}");
            let (status, scanned) = list(&app, &iga, path, &[("filter", &scanned_filter)]).await;
            assert_eq!(status, StatusCode::OK, "{scanned_filter}: {scanned}");
            assert_eq!(ids(&sql), ids(&scanned), "{path} {filter}");
            assert_eq!(sql["totalResults"], scanned["totalResults"], "{path} {filter}");
        }
    }
    for (path, keys, everything) in [
        (
            "/scim/v2/Users",
            ["userName", "externalId", "id", "meta.created", "meta.lastModified"],
            r#"not (emails[value eq "none"])"#,
        ),
        (
            "/scim/v2/Groups",
            ["displayName", "externalId", "id", "meta.created", "userName"],
            r#"not (members[value eq "none"])"#,
        ),
    ] {
        for key in keys {
            for order in ["ascending", "descending"] {
                let query = [("sortBy", key), ("sortOrder", order), ("startIndex", "2"), ("count", "4")];
                let (_, sql) = list(&app, &iga, path, &query).await;
                let (_, scanned) =
                    list(&app, &iga, path, &[query.as_slice(), &[("filter", everything)]].concat()).await;
                assert_eq!(ids(&sql), ids(&scanned), "{path} sortBy {key} {order}");
                let total = scanned["totalResults"].as_u64().expect("total");
                assert_eq!((sql["totalResults"].as_u64(), ids(&sql).len() as u64), (Some(total), 4.min(total - 1)));
            }
        }
    }

    // A search at the root pages across users, then groups.
    let search = |query: Value| {
        let request = app.authed(&iga, Method::POST, "/scim/v2/.search").json(&query);
        async { app.send(request).await.body }
    };
    let request = |filter: &str, start: i64, count: i64| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": filter, "startIndex": start, "count": count});
    let (_, users) = list(&app, &iga, "/scim/v2/Users", &[]).await;
    let (_, groups) = list(&app, &iga, "/scim/v2/Groups", &[]).await;
    let everyone: Vec<String> = ids(&users).into_iter().chain(ids(&groups)).collect();
    assert_eq!(everyone.len(), 11);
    for (start, count) in [(1, 200), (5, 4), (7, 1), (8, 10), (11, 5), (12, 5)] {
        let body = search(request("meta.created pr", start, count)).await;
        let expected: Vec<String> = everyone.iter().skip(start as usize - 1).take(count as usize).cloned().collect();
        assert_eq!(
            (ids(&body), body["totalResults"].as_i64()),
            (expected, Some(11)),
            "startIndex {start} count {count}"
        );
    }
    let body = search(request(r#"externalId pr or emails[type eq "work"]"#, 1, 200)).await;
    assert_eq!(body["totalResults"], 8, "{body}");
    let sorted = search(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "sortBy": "meta.created", "sortOrder": "descending"})).await;
    let times: Vec<&str> = sorted["Resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r["meta"]["created"].as_str().expect("created"))
        .collect();
    assert_eq!(times.len(), 11);
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
}
