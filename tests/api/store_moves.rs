//! Moving a store and restoring a backup, with every table of the schema holding rows: the
//! commands an operator runs (`cofre backup`, `cofre restore`, `cofre migrate-store`) carry each
//! table row for row into PostgreSQL and into SQLite, whatever references one table makes to
//! another or to itself. The tables and their references come from the database's catalog, so
//! a migration that adds a table, or a reference, that this fixture leaves empty fails here
//! until the fixture fills it.

use std::collections::BTreeMap;
use std::path::Path;

use cofre::clock::{Clock, SystemClock};
use cofre::crypto::cipher::Aad;
use cofre::crypto::keyring::MasterKey;
use cofre::domain::authorization::Resource;
use cofre::store::integrity::snapshot::Cell;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::cli::cofre_outcome_with_env;
use crate::helpers::{Backend, Reply, TestApp, fresh_postgres_schema};
use crate::on_both_stores;

/// Tables of the database's own machinery: the migrations' bookkeeping (its checksums are the
/// dialect's own files) and SQLite's counters of AUTOINCREMENT keys.
const MACHINERY: [&str; 2] = ["_sqlx_migrations", "sqlite_sequence"];

macro_rules! with_postgres {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(cofre_test_postgres), ignore = "needs COFRE_TEST_POSTGRES_URL (the target store)")]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(cofre_test_postgres), ignore = "needs COFRE_TEST_POSTGRES_URL")]
            async fn postgres() {
                super::$name($crate::helpers::Backend::postgres()).await;
            }
        }
    )*};
}

with_postgres!(every_table_moves_and_restores_row_for_row);
on_both_stores!(a_reference_to_a_later_row_of_its_own_table_loads_from_another_statement);

/// One stored value, compared across dialects.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// A table's columns (by name) and rows (sorted, so the dialects' orders do not matter).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Table {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

impl Table {
    fn cell<'a>(&self, row: &'a [Value], column: &str) -> &'a Value {
        &row[self.columns.iter().position(|c| c == column).expect("column")]
    }
}

/// Every table of a store, by name.
type Rows = BTreeMap<String, Table>;

/// The tables of the store behind `pool`, from its catalog.
async fn catalog_tables(pool: &sqlx::AnyPool, sqlite: bool) -> Vec<String> {
    let sql = if sqlite {
        "SELECT name FROM sqlite_master WHERE type = 'table'"
    } else {
        "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
    };
    let rows = sqlx::query(sql).fetch_all(pool).await.expect("catalog");
    let mut names: Vec<String> = rows.iter().map(|r| r.get::<String, _>("name")).collect();
    names.retain(|n| !MACHINERY.contains(&n.as_str()));
    names.sort();
    names
}

async fn catalog_columns(pool: &sqlx::AnyPool, sqlite: bool, table: &str) -> Vec<String> {
    let sql = if sqlite {
        "SELECT name FROM pragma_table_info($1) ORDER BY name"
    } else {
        "SELECT CAST(column_name AS TEXT) AS name FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY column_name"
    };
    let rows = sqlx::query(sql).bind(table).fetch_all(pool).await.expect("columns");
    rows.iter().map(|r| r.get::<String, _>("name")).collect()
}

fn value(row: &AnyRow, i: usize) -> Value {
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return v.map_or(Value::Null, Value::Int);
    }
    if let Ok(v) = row.try_get::<Option<String>, _>(i) {
        return v.map_or(Value::Null, Value::Text);
    }
    row.try_get::<Option<Vec<u8>>, _>(i).expect("an integer, text or bytes").map_or(Value::Null, Value::Bytes)
}

/// Every row of every table of the store at `url`, read with the test's own queries.
async fn rows_of(url: &str) -> Rows {
    sqlx::any::install_default_drivers();
    let sqlite = url.starts_with("sqlite:");
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(url).await.expect("store");
    let mut all = Rows::new();
    for table in catalog_tables(&pool, sqlite).await {
        let columns = catalog_columns(&pool, sqlite, &table).await;
        let list: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
        let sql = format!("SELECT {} FROM \"{table}\"", list.join(", "));
        let mut rows: Vec<Vec<Value>> = sqlx::query(&sql)
            .fetch_all(&pool)
            .await
            .expect("rows")
            .iter()
            .map(|r| (0..columns.len()).map(|i| value(r, i)).collect())
            .collect();
        rows.sort();
        all.insert(table, Table { columns, rows });
    }
    pool.close().await;
    all
}

/// Fills every table of the schema: through the API where one writes it, else through the
/// service or store function a background task or an operator command calls, and SQL only for
/// rows no running cofre makes any more (or only on a crash).
async fn fill_every_table(app: &TestApp) {
    // Every sealed column; it ends by moving the clock past its tokens' hour.
    crate::sealed_registry::populate(app).await;
    let core = &app.state.core;
    let admin = app.client(&[Resource::Admin]).await;
    let pam = app.client(&[Resource::Pam, Resource::Certificates, Resource::Users]).await;
    let created = |reply: Reply| assert!(reply.status.is_success(), "{}", reply.body);

    // Domains, users, groups and their members, static and dynamic API tokens and a token drawn.
    created(app.post_json(&admin, "/api/admin/domains", json!({"name": "corp.example"})).await);
    let bia = json!({"username": "bia", "name": "Bia", "password": "a long password"});
    created(app.post_json(&admin, "/api/admin/users", bia).await);
    created(app.post_json(&admin, "/api/admin/groups", json!({"name": "ops"})).await);
    created(app.call(&admin, Method::PUT, "/api/admin/groups/ops/members/bia").await);
    created(app.post_json(&admin, "/api/admin/tokens", json!({"name": "ci", "scope": ["info:read"]})).await);
    let dynamic = json!({"name": "bia-ci", "type": "dynamic", "user": "bia", "scope": ["info:read"]});
    created(app.post_json(&admin, "/api/admin/tokens", dynamic).await);
    let drawn = app.client.post(app.url("/api/get_auth_token"));
    created(app.send(drawn.form(&[("login_name", "bia"), ("password", "a long password")])).await);

    // A failed authentication, and an OAuth 1.0a nonce seen (signed at the server's clock).
    let wrong =
        [("grant_type", "client_credentials"), ("client_id", admin.app.client_id.as_str()), ("client_secret", "x")];
    let refused = app.send(app.client.post(app.url("/iso/oauth2/token")).form(&wrong)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    let signed = crate::oauth1::oauth1_app(app, false).await;
    let o = signed.oauth1.as_ref().expect("oauth1 credentials");
    let mut signer = oauth1_request::Builder::new(
        oauth1_request::Credentials::new(o.consumer_key.as_str(), o.consumer_secret.as_str()),
        oauth1_request::HMAC_SHA1,
    );
    signer.token(oauth1_request::Credentials::new(o.token.as_str(), o.token_secret.as_str()));
    signer.timestamp(std::num::NonZeroU64::new(u64::try_from(app.clock.now_ms() / 1000).expect("time")));
    let uri = app.url("/iso/pam/info/a");
    let header = signer.get(&uri, &oauth1_request::ParameterList::<&str, &str>::new(Vec::new()));
    let read = app.send(app.client.get(&uri).header("authorization", header)).await;
    assert!(read.status != StatusCode::UNAUTHORIZED, "signed request: {}", read.body);

    // An item linked to an application; a related user.
    let links = format!("/api/admin/applications/{}/links", pam.app.application_id);
    created(app.post_json(&admin, &links, json!({"info": ["a"], "write": true})).await);
    created(app.post_json(&pam, "/iso/user/related", json!({"name": "Operations", "username": "ops"})).await);

    // An SSH key installed on a second device; a password whose parent is a password made after
    // it (a reference to a later row of its own table); a password revealed.
    crate::pam::device(app, &pam, "edge01").await;
    crate::pam::device(app, &pam, "edge02").await;
    let (private, public) = cofre::service::pam::rotation::generate_key("ed25519").expect("key");
    let key = json!({"username": "deployer", "hostname": "edge01", "ip": "10.0.0.5", "private_key": private.as_str(),
                     "public_key": public, "devices": [{"hostname": "edge02"}]});
    created(app.post_json(&pam, "/iso/pam/key", key).await);
    let password =
        |username: &str| json!({"username": username, "hostname": "edge01", "ip": "10.0.0.5", "content": "pw"});
    let child = app.post_json(&pam, "/iso/pam/credential", password("child")).await;
    let parent = app.post_json(&pam, "/iso/pam/credential", password("parent")).await;
    let parent_id = parent.body["credential"]["id"].as_str().expect("id").to_owned();
    assert!(
        parent_id.parse::<i64>().expect("id")
            > child.body["credential"]["id"].as_str().expect("id").parse().expect("id")
    );
    let mut reparented = password("child");
    reparented["parent_password"] = parent_id.clone().into();
    created(app.post_json(&pam, "/iso/pam/credential", reparented).await);
    let row = sqlx::query("SELECT parent_id FROM credentials WHERE username = 'child'").fetch_one(core.store.pool());
    let parent_of_child: Option<i64> = row.await.expect("child").get("parent_id");
    assert_eq!(parent_of_child.map(|id| id.to_string()), Some(parent_id.clone()), "the child names its parent");
    created(app.call(&pam, Method::GET, &format!("/iso/pam/credential/{parent_id}")).await);

    // A MySafe item shared with another user.
    let owner = crate::mysafe::user_key(app, "mariana").await;
    let shared = json!({"name": "Shared", "url": "https://shared.example", "client_id": "id", "client_secret": "s",
                        "users_allowed": [{"username": "bia", "can_edit": true}]});
    created(app.post_json(&owner, "/api/mysafe/secretapi", shared).await);

    // DSM: a pod provisioned, and a registration repeated (its run credentials).
    let registrar = app.client(&[Resource::Dsm]).await;
    let registered = crate::dsm_security::register_with(app, &registrar, "payments", &[]).await;
    let pipeline = crate::dsm_security::pipeline_of(app, &registered).await;
    let pod = [("pod_name", "api-7d9"), ("deploy", "api"), ("namespace", "prod")];
    created(app.send(app.authed(&pipeline, Method::POST, "/iso/coe/dapp/provision").form(&pod)).await);
    created(crate::dsm_security::register_with(app, &registrar, "payments", &[]).await);

    // A certificate signed by the issuing authority `populate` made, published to a device.
    let body = crate::certificates::request_body("moved.example.com", json!({}));
    created(crate::certificates::request(app, &pam, "moved", body).await);
    let certificate = crate::certificates::sign(app, &pam, "moved", "self_signed=0&ca=Issuing%20CA&reason=x").await;
    assert_eq!(certificate.status, StatusCode::OK, "{}", certificate.body);
    let profile = json!({"nome_perfil": "edge", "codigo_credencial": parent_id, "dispositivos": ["edge01"]});
    let profile = app.post_json(&pam, "/iso/cert/perfil/apache", profile).await;
    assert_eq!(profile.status, StatusCode::CREATED, "{}", profile.body);
    let publication = json!({"codigo_certificado": certificate.body["certificate"]["id"],
                             "codigo_perfil_publicacao": profile.body["profile"]["id"], "motivo": "moved"});
    created(app.post_json(&pam, "/iso/cert/publicar", publication).await);

    let id_of = |sql: &'static str| async move {
        sqlx::query(sql).fetch_one(core.store.pool()).await.expect(sql).get::<i64, _>("id")
    };
    // The SSH host key an operator pins (`cofre device host-key set`).
    let device = id_of("SELECT MIN(id) AS id FROM devices").await;
    let (_, host_key) = cofre::service::pam::rotation::generate_key("ed25519").expect("key");
    cofre::service::sessions::ssh::set_host_key(core, device, &host_key).await.expect("pinned");

    // This process's heartbeat (`/ready`); a key rotation's lease, held; an audit sink's cursor,
    // as its shipper leaves it (a configured sink would keep moving it under the test).
    let ready = app.send(app.client.get(app.url("/ready"))).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    let now = core.clock.now_ms();
    core.store.take_lease("store-moves", "fixture", now, now + 86_400_000).await.expect("lease").expect("free");
    core.store.advance_audit_sink_cursor("file:/var/log/cofre/audit.jsonl", 1).await.expect("cursor");

    // What only a crash leaves: a committed write's pending audit row no record took yet, dated
    // a day ahead so that no recovery pass chains it while the test runs. And a record from
    // before the audit chain, which migration 0020 moved aside.
    let pending = "INSERT INTO pending_audit (key, request_id, at_ms, client_ip, application_id, authorization_id, \
                   method, route, write, detail) VALUES ('1', 'crashed-request', $1, '127.0.0.1', NULL, NULL, 'POST', \
                   '/iso/pam/info', 'protected_info', '')";
    let day_ahead = SystemClock.now_ms() + 86_400_000;
    sqlx::query(pending).bind(day_ahead).execute(core.store.pool()).await.expect("pending row");
    let prechain = "INSERT INTO audit_log_prechain (id, at_ms, request_id, client_ip, application_id, authorization_id, \
                    method, route, status, outcome, detail) VALUES (1, 1, 'before-the-chain', '127.0.0.1', NULL, NULL, \
                    'GET', '/iso/pam/info/a', 200, 'success', '')";
    sqlx::query(prechain).execute(core.store.pool()).await.expect("prechain row");
}

/// Stops the server and waits until its shutdown (which ends the sessions it carries) has
/// closed the store: nothing writes to it after.
async fn stopped(app: &TestApp) {
    app.stop();
    for _ in 0..1000 {
        if app.state.core.store.pool().is_closed() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the server did not close its store after stopping");
}

/// Every reference column of the store at `url`, from its catalog, as `table.column`.
async fn reference_columns(url: &str) -> Vec<(String, String)> {
    let sql = if url.starts_with("sqlite:") {
        "SELECT m.name AS t, f.\"from\" AS c FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f \
         WHERE m.type = 'table'"
    } else {
        "SELECT CAST(k.table_name AS TEXT) AS t, CAST(k.column_name AS TEXT) AS c \
         FROM information_schema.table_constraints r JOIN information_schema.key_column_usage k \
         ON k.constraint_schema = r.constraint_schema AND k.constraint_name = r.constraint_name \
         WHERE r.constraint_type = 'FOREIGN KEY' AND r.table_schema = current_schema()"
    };
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(url).await.expect("store");
    let rows = sqlx::query(sql).fetch_all(&pool).await.expect("catalog");
    pool.close().await;
    rows.iter().map(|r| (r.get("t"), r.get("c"))).collect()
}

/// The reference columns that are NULL in every row.
fn unused_references(rows: &Rows, references: &[(String, String)]) -> Vec<String> {
    references
        .iter()
        .filter(|(t, c)| rows[t].rows.iter().all(|row| *rows[t].cell(row, c) == Value::Null))
        .map(|(t, c)| format!("{t}.{c}"))
        .collect()
}

/// The tables with no row.
fn empty_tables(rows: &Rows) -> Vec<&str> {
    rows.iter().filter(|(_, t)| t.rows.is_empty()).map(|(name, _)| name.as_str()).collect()
}

/// An empty store of `backend`'s kind: its data directory and database URL.
async fn empty_store(backend: &Backend) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("dir");
    let url = match backend {
        Backend::Sqlite => String::new(),
        Backend::Postgres(url) => fresh_postgres_schema(url).await,
    };
    (dir, url)
}

/// The URL a store's rows are read through: the configured one, or the SQLite file in `dir`.
fn reading_url(dir: &std::path::Path, url: &str) -> String {
    if url.is_empty() { format!("sqlite://{}", dir.join("cofre.db").display()) } else { url.to_owned() }
}

/// Takes out of `target` the audit record `cofre <command>` wrote about itself into the store
/// it made, checking that it is the one record added and that the chain's head moved to it.
fn without_own_record(command: &str, source: &Rows, target: &mut Rows) {
    let log = target.get_mut("audit_log").expect("audit_log");
    let before = &source["audit_log"].rows;
    let (own, kept): (Vec<_>, Vec<_>) = log.rows.drain(..).partition(|row| !before.contains(row));
    log.rows = kept;
    assert_eq!(own.len(), 1, "one record added, by {command}: {own:?}");
    assert_eq!(log.cell(&own[0], "route"), &Value::Text(format!("/cli/{command}")));
    let (seq, mac) = (log.cell(&own[0], "seq").clone(), log.cell(&own[0], "mac").clone());
    let head = target.get_mut("audit_chain").expect("audit_chain");
    assert_eq!(head.rows.len(), 1);
    assert_eq!(
        (head.cell(&head.rows[0], "seq"), head.cell(&head.rows[0], "mac")),
        (&seq, &mac),
        "the head is its record"
    );
    *head = source["audit_chain"].clone();
}

/// Compares `target` with `source` table by table, naming each table whose rows differ and a
/// row of each side that the other lacks.
fn assert_same_rows(what: &str, source: &Rows, target: &Rows) {
    assert_eq!(source.keys().collect::<Vec<_>>(), target.keys().collect::<Vec<_>>(), "{what}: the same tables");
    let mut differing = Vec::new();
    for (name, table) in source {
        let moved = &target[name];
        if moved != table {
            let lost = table.rows.iter().find(|r| !moved.rows.contains(r));
            let gained = moved.rows.iter().find(|r| !table.rows.contains(r));
            differing.push(format!(
                "{name} ({} rows, then {}): lost {lost:?}, gained {gained:?}",
                table.rows.len(),
                moved.rows.len()
            ));
        }
    }
    assert!(differing.is_empty(), "{what}: tables whose rows changed:\n{}", differing.join("\n"));
}

/// `cofre restore FILE` into an empty store of `target`'s kind: the rows it holds then, less the
/// command's own audit record.
async fn restored(app: &TestApp, file: &Path, target: &Backend, before: &Rows) -> Rows {
    let (dir, url) = empty_store(target).await;
    let key = app.config.master_key_path().display().to_string();
    let env = [
        ("COFRE_DATA_DIR", dir.path().to_str().expect("utf-8")),
        ("COFRE_DATABASE_URL", url.as_str()),
        ("COFRE_MASTER_KEY_FILE", key.as_str()),
    ];
    let (ok, out, err) = cofre_outcome_with_env(app, &["restore", &file.display().to_string()], "", &env);
    assert!(ok, "restore {} into {target:?}: {out}{err}", file.display());
    assert!(out.starts_with("restored: "), "{out}");
    let mut rows = rows_of(&reading_url(dir.path(), &url)).await;
    without_own_record("restore", before, &mut rows);
    rows
}

/// The tables of the store at `url` in the order they were created.
async fn creation_order(url: &str) -> Vec<String> {
    let sql = if url.starts_with("sqlite:") {
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid"
    } else {
        "SELECT CAST(c.relname AS TEXT) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY c.oid"
    };
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(url).await.expect("store");
    let rows = sqlx::query(sql).fetch_all(&pool).await.expect("catalog");
    pool.close().await;
    rows.iter().map(|r| r.get::<String, _>("name")).collect()
}

/// The tables of the backup `bytes` holds, in its order, and its lines, opened with `key` as the
/// format says (service/integrity/backup.rs): a JSON header line, then frames of a big-endian
/// length and an AES-GCM blob bound to the header's digest, the frame's index and whether it is
/// the last.
fn open_backup(bytes: &[u8], key: &MasterKey) -> (Vec<u8>, Vec<serde_json::Value>) {
    let header_end = bytes.iter().position(|b| *b == b'\n').expect("header") + 1;
    let header: serde_json::Value = serde_json::from_slice(&bytes[..header_end]).expect("header");
    let sealing = key.backup_key(header["backup_id"].as_str().expect("backup id"));
    let digest = hex::encode(cofre::crypto::sha256(&bytes[..header_end]));
    let (mut at, mut index, mut plain) = (header_end, 0, Vec::new());
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("length")) as usize;
        let blob = &bytes[at + 4..at + 4 + len];
        let row = format!("{digest}/{index}");
        let opened =
            ["frame", "last"].iter().find_map(|field| sealing.open(&Aad::new("cofre-backup", &row, field), blob).ok());
        plain.extend_from_slice(&opened.expect("a frame opens"));
        (at, index) = (at + 4 + len, index + 1);
    }
    let lines =
        plain.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).expect("line"));
    (bytes[..header_end].to_vec(), lines.collect())
}

/// The backup `bytes` with its tables in `order`, sealed in one frame: a backup as cofre wrote
/// them before tables were ordered by their references (it took them in creation order).
fn reordered_backup(bytes: &[u8], key: &MasterKey, order: &[String]) -> (Vec<String>, Vec<u8>) {
    let (header, lines) = open_backup(bytes, key);
    let mut tables: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
    let mut end = None;
    for line in lines {
        if let Some(name) = line.get("table").and_then(|t| t.as_str()) {
            tables.push((name.to_owned(), vec![line.clone()]));
        } else if line.get("counts").is_some() {
            end = Some(line);
        } else {
            tables.last_mut().expect("a table first").1.push(line);
        }
    }
    let written: Vec<String> = tables.iter().map(|(name, _)| name.clone()).collect();
    tables.sort_by_key(|(name, _)| order.iter().position(|o| o == name));
    let mut plain = Vec::new();
    for line in tables.iter().flat_map(|(_, lines)| lines).chain(end.as_ref()) {
        plain.extend_from_slice(&serde_json::to_vec(line).expect("json"));
        plain.push(b'\n');
    }
    let header_json: serde_json::Value = serde_json::from_slice(&header).expect("header");
    let sealing = key.backup_key(header_json["backup_id"].as_str().expect("backup id"));
    let row = format!("{}/0", hex::encode(cofre::crypto::sha256(&header)));
    let blob = sealing.seal(&Aad::new("cofre-backup", &row, "last"), &plain);
    let file = [header.as_slice(), &u32::try_from(blob.len()).expect("size").to_be_bytes(), &blob].concat();
    (written, file)
}

async fn every_table_moves_and_restores_row_for_row(backend: Backend) {
    let postgres = Backend::postgres();
    let app = TestApp::spawn_with(backend.clone(), |c| {
        c.certificate_publish_command = "/bin/true".into();
        // The background jobs (purges of expired rows among them) pass once, at the start.
        c.rotation_check_interval = 86_400;
    })
    .await;
    fill_every_table(&app).await;
    stopped(&app).await;
    let source_url = reading_url(app.data_dir.path(), &app.config.database_url);
    let before = rows_of(&source_url).await;
    assert!(before.len() > 40, "the catalog lists the schema's tables: {:?}", before.keys());
    assert_eq!(empty_tables(&before), Vec::<&str>::new(), "tables the fixture leaves empty");
    let references = reference_columns(&source_url).await;
    assert!(references.len() > 40, "the catalog lists the references: {references:?}");
    assert_eq!(unused_references(&before, &references), Vec::<String>::new(), "references no row of the fixture makes");

    let file = app.data_dir.path().join("every-table.cofre-backup");
    let (ok, out, err) = cofre_outcome_with_env(&app, &["backup", &file.display().to_string()], "", &[]);
    assert!(ok, "backup: {out}{err}");
    for target in [&postgres, &Backend::Sqlite] {
        assert_same_rows(&format!("restored into {target:?}"), &before, &restored(&app, &file, target, &before).await);
    }

    // A backup taken before: its tables in creation order, where authorizations (0001) comes
    // before the users and DSM applications (0002, 0005) it references.
    let key = MasterKey::load(&app.config.master_key_path()).expect("master key");
    let created = creation_order(&source_url).await;
    let (written, old) = reordered_backup(&std::fs::read(&file).expect("backup"), &key, &created);
    let at = |list: &[String], table: &str| list.iter().position(|t| t == table).expect("table");
    assert!(at(&written, "users") < at(&written, "authorizations"), "parents first: {written:?}");
    assert!(at(&created, "users") > at(&created, "authorizations"), "{created:?}");
    let old_file = app.data_dir.path().join("creation-order.cofre-backup");
    std::fs::write(&old_file, old).expect("written");
    let moved = restored(&app, &old_file, &postgres, &before).await;
    assert_same_rows("a backup in creation order restored into PostgreSQL", &before, &moved);

    // The move takes the source as it is now: with the backup's own audit record.
    let before = rows_of(&source_url).await;
    let (_, url) = empty_store(&postgres).await;
    let (ok, out, err) = cofre_outcome_with_env(&app, &["migrate-store", "--to", &url], "", &[]);
    assert!(ok, "migrate-store: {out}{err}");
    assert!(out.starts_with("moved: "), "{out}");
    assert_same_rows("moved to PostgreSQL", &before, &rows_of(&url).await);
}

/// PostgreSQL checks a reference at the end of each statement, so a row may point at a later
/// row of its table only if both go in together. A restore inserts a few hundred rows per
/// statement: here an intermediate authority comes one statement before the root it names.
async fn a_reference_to_a_later_row_of_its_own_table_loads_from_another_statement(backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let url = match &backend {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.path().join("cofre.db").display()),
        Backend::Postgres(url) => fresh_postgres_schema(url).await,
    };
    let store = cofre::store::Store::connect(&url, 2).await.expect("store");
    store.migrate().await.expect("migrated");
    let columns = store.columns("certificate_authorities").await.expect("columns");
    let authority = |id: i64, parent: Option<i64>| -> Vec<Cell> {
        columns
            .iter()
            .map(|c| match c.name.as_str() {
                "id" => Cell::Int(id),
                "parent_id" => parent.map_or(Cell::Null, Cell::Int),
                "uid" | "name" | "key_type" | "certificate" => Cell::Text(format!("{}-{id}", c.name)),
                "private_key" => Cell::Bytes(cofre::store::integrity::snapshot::Base64(vec![1, 2, 3])),
                _ => Cell::Int(0),
            })
            .collect()
    };
    let mut loader = store.begin_load().await.expect("load");
    loader.start_table("certificate_authorities", &columns);
    let table = "certificate_authorities";
    loader.insert(table, &columns, &[authority(1, Some(2))]).await.expect("the intermediate, naming a later row");
    loader.insert(table, &columns, &[authority(2, None), authority(3, Some(1))]).await.expect("the root");
    loader.finish(&[(table.to_owned(), columns.clone())]).await.expect("committed");

    let parents: Vec<(i64, Option<i64>)> = sqlx::query("SELECT id, parent_id FROM certificate_authorities ORDER BY id")
        .fetch_all(store.pool())
        .await
        .expect("rows")
        .iter()
        .map(|r| (r.get("id"), r.get("parent_id")))
        .collect();
    assert_eq!(parents, [(1, Some(2)), (2, None), (3, Some(1))]);
    store.close().await;
}
