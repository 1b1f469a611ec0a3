//! The two migration trees (`migrations/sqlite`, `migrations/postgres`) are kept by hand; this
//! migrates both and compares what they made, table by table: columns (name, type, whether
//! NULL is allowed), foreign keys and indexes. A change made to one tree only fails here.

use std::collections::BTreeSet;

use sqlx::Row;

use crate::helpers::{Backend, TestApp};

/// Tables of the migration machinery rather than of cofre.
const MACHINERY: &[&str] = &["_sqlx_migrations", "sqlite_sequence"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(cofre_test_postgres), ignore = "needs COFRE_TEST_POSTGRES_URL")]
async fn both_migration_trees_make_the_same_schema() {
    let sqlite = TestApp::spawn(Backend::Sqlite).await;
    let postgres = TestApp::spawn(Backend::postgres()).await;
    let lite = shape(sqlite.state.core.store.pool(), true).await;
    let pg = shape(postgres.state.core.store.pool(), false).await;
    assert!(lite.iter().any(|l| l.starts_with("remote_sessions column failure")), "the catalog was read: {lite:?}");
    let only_sqlite: Vec<_> = lite.difference(&pg).collect();
    let only_postgres: Vec<_> = pg.difference(&lite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the migration trees differ\nonly in migrations/sqlite: {only_sqlite:#?}\nonly in migrations/postgres: {only_postgres:#?}"
    );
}

/// One type name for both stores: SQLite's declared types and PostgreSQL's.
fn kind(declared: &str) -> String {
    match declared.to_ascii_lowercase().as_str() {
        "integer" | "bigint" | "smallint" | "int" => "integer".into(),
        "text" | "character varying" => "text".into(),
        "blob" | "bytea" => "bytes".into(),
        "boolean" => "boolean".into(),
        t if t.starts_with("timestamp") => "timestamp".into(),
        other => other.into(),
    }
}

/// The schema as lines: `table column name type null|not null`, `table references col -> t.c`,
/// `table index [unique] (a, b)`.
async fn shape(pool: &sqlx::AnyPool, sqlite: bool) -> BTreeSet<String> {
    let mut lines = BTreeSet::new();
    let kept = |table: &str| !MACHINERY.contains(&table);

    let columns = if sqlite {
        "SELECT m.name AS t, p.name AS c, p.type AS ty, CAST(p.\"notnull\" OR p.pk > 0 AS INTEGER) AS nn \
         FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table'"
    } else {
        "SELECT CAST(c.relname AS TEXT) AS t, CAST(a.attname AS TEXT) AS c, format_type(a.atttypid, NULL) AS ty, \
         CAST(CASE WHEN a.attnotnull THEN 1 ELSE 0 END AS BIGINT) AS nn \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped"
    };
    for row in sqlx::query(columns).fetch_all(pool).await.expect("columns") {
        let table: String = row.get("t");
        if kept(&table) {
            let null = if row.get::<i64, _>("nn") == 1 { "not null" } else { "null" };
            let column: String = row.get("c");
            lines.insert(format!("{table} column {column} {} {null}", kind(&row.get::<String, _>("ty"))));
        }
    }

    let references = if sqlite {
        "SELECT m.name AS t, f.\"from\" AS c, f.\"table\" AS rt, COALESCE(f.\"to\", '(primary key)') AS rc \
         FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table'"
    } else {
        "SELECT CAST(c.relname AS TEXT) AS t, CAST(a.attname AS TEXT) AS c, CAST(cf.relname AS TEXT) AS rt, \
         CAST(af.attname AS TEXT) AS rc \
         FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_class cf ON cf.oid = k.confrelid \
         JOIN LATERAL unnest(k.conkey, k.confkey) AS u(mine, theirs) ON TRUE \
         JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.mine \
         JOIN pg_attribute af ON af.attrelid = k.confrelid AND af.attnum = u.theirs \
         WHERE k.contype = 'f' AND n.nspname = current_schema()"
    };
    for row in sqlx::query(references).fetch_all(pool).await.expect("foreign keys") {
        let table: String = row.get("t");
        if kept(&table) {
            let (column, to_table, to_column): (String, String, String) = (row.get("c"), row.get("rt"), row.get("rc"));
            lines.insert(format!("{table} references {column} -> {to_table}.{to_column}"));
        }
    }

    // Indexes other than the primary key's, with their columns in order.
    let indexes = if sqlite {
        "SELECT m.name AS t, CAST(l.\"unique\" AS INTEGER) AS u, \
         (SELECT group_concat(name, ', ') FROM (SELECT i.name FROM pragma_index_info(l.name) i ORDER BY i.seqno)) AS cols \
         FROM sqlite_master m JOIN pragma_index_list(m.name) l WHERE m.type = 'table' AND l.origin <> 'pk'"
    } else {
        "SELECT CAST(c.relname AS TEXT) AS t, CAST(CASE WHEN i.indisunique THEN 1 ELSE 0 END AS BIGINT) AS u, \
         array_to_string(ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, o) \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.o), ', ') AS cols \
         FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND NOT i.indisprimary"
    };
    for row in sqlx::query(indexes).fetch_all(pool).await.expect("indexes") {
        let table: String = row.get("t");
        if kept(&table) {
            let unique = if row.get::<i64, _>("u") == 1 { "unique " } else { "" };
            let columns: Option<String> = row.get("cols");
            lines.insert(format!("{table} index {unique}({})", columns.unwrap_or_default()));
        }
    }
    lines
}
