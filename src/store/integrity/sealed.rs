//! The registry of every column that holds sealed values, and the SQL that pages through them
//! and moves one (compare-and-set). `service/integrity/sealed.rs` opens, counts and reseals.
//!
//! Each entry says where the value is and how its associated data is rebuilt from the row, in
//! SQL both dialects run alike. The AAD is what the sealing code passes to `Aad::new`:
//!
//! | column | AAD row | AAD field |
//! |---|---|---|
//! | `server_secrets.sealed` | `name` | `sealed` |
//! | `authorizations.oauth1_consumer_secret` | `client_id` | `oauth1_consumer_secret` |
//! | `authorizations.oauth1_token_secret` | `client_id` | `oauth1_token_secret` |
//! | `authorizations.aws_secret_access_key` | `client_id` | `aws_secret_access_key` |
//! | `protected_info.content` | `uid` | `content` |
//! | `credentials.secret`, `.key_passphrase`, `.settings`, `.rotation_pending` | `uid` | the column's name |
//! | `credential_versions.secret`, `.key_passphrase` | `<credential uid>:<version>` | the column's name |
//! | `mysafe_items.secret` | `uid` | `secret` |
//! | `mysafe_file_chunks.data` | `<item uid>:<seq>` | `data` |
//! | `dsm_secrets.data` | `uid` | `data` |
//! | `dsm_secret_versions.data` | `<secret uid>:<version>` | `data` |
//! | `session_requests.record` | `uid` | `record` |
//! | `session_recordings.chunk` | `<remote session's session_id>:<seq>` | `chunk` |
//! | `gateway_keys.sealed` | `name` | `seed` |
//! | `certificate_authorities.private_key` | `uid` | `private_key` |
//! | `certificate_requests.private_key` | `<application_id>:<code>` | `private_key` |
//! | `certificates.private_key` | `uid` | `private_key` |
//! | `certificate_publish_profiles.key_db_password` | `<application_id>:<name>` | `key_db_password` |
//!
//! `data_keys.wrapped_key` is not here: the master key wraps it, not a data key.
//!
//! Rows are read a page at a time in key order (keyset paging), so no operation holds more than
//! one page of sealed values, and none holds a read open across its writes.

use std::fmt;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::store::{Backend, Store, StoreError, StoreResult};

/// Tables with sealed columns whose writers check a revision (migrations 0009, 0010, 0018).
const REVISIONED: [&str; 4] = ["authorizations", "credentials", "mysafe_items", "certificate_requests"];

/// A table's primary key, as the paging and the compare-and-set update name a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// One integer column.
    Int(&'static str),
    /// One text column.
    Text(&'static str),
    /// Two integer columns, shown as `<a>:<b>`.
    IntPair(&'static str, &'static str),
}

impl Key {
    pub fn columns(self) -> Vec<&'static str> {
        match self {
            Self::Int(c) | Self::Text(c) => vec![c],
            Self::IntPair(a, b) => vec![a, b],
        }
    }
}

/// One column holding sealed values.
#[derive(Debug)]
pub struct SealedColumn {
    pub table: &'static str,
    pub column: &'static str,
    /// SQL for the row's primary key as text (how failures name the row), e.g.
    /// `CAST(id AS TEXT)`, `name`, or `CAST(a AS TEXT) || ':' || CAST(b AS TEXT)`.
    pub key_sql: &'static str,
    /// The primary key's column(s), for paging and for the update's `WHERE`.
    pub key: Key,
    /// SQL yielding the AAD row string, the same on SQLite and PostgreSQL (columns of the
    /// table itself are qualified by its name inside subqueries).
    pub aad_row_sql: &'static str,
    /// The AAD field. Every sealing site uses a fixed field per column (the PAM history's
    /// run-time field is the column's name), so none is computed per row.
    pub aad_field: &'static str,
}

const fn by_id(table: &'static str, column: &'static str, aad_row_sql: &'static str) -> SealedColumn {
    SealedColumn { table, column, key_sql: "CAST(id AS TEXT)", key: Key::Int("id"), aad_row_sql, aad_field: column }
}

pub const SEALED_COLUMNS: &[SealedColumn] = &[
    // service.rs `server_secret`: Aad::new("server_secrets", name, "sealed").
    SealedColumn {
        table: "server_secrets",
        column: "sealed",
        key_sql: "name",
        key: Key::Text("name"),
        aad_row_sql: "name",
        aad_field: "sealed",
    },
    // auth/oauth1.rs `secret_aad(client_id, field)`, sealed in admin/apps.rs.
    by_id("authorizations", "oauth1_consumer_secret", "client_id"),
    by_id("authorizations", "oauth1_token_secret", "client_id"),
    by_id("authorizations", "aws_secret_access_key", "client_id"),
    // pam/info.rs `content_aad(uid)`.
    by_id("protected_info", "content", "uid"),
    // pam/sealing.rs `aad(uid, field)`.
    by_id("credentials", "secret", "uid"),
    by_id("credentials", "key_passphrase", "uid"),
    by_id("credentials", "settings", "uid"),
    // pam/rotation/job.rs: a rotation's value before it is current, `aad(uid, "rotation_pending")`.
    by_id("credentials", "rotation_pending", "uid"),
    // pam/history.rs `version_row(uid, version)` = "<uid>:<version>".
    SealedColumn {
        table: "credential_versions",
        column: "secret",
        key_sql: "CAST(credential_id AS TEXT) || ':' || CAST(version AS TEXT)",
        key: Key::IntPair("credential_id", "version"),
        aad_row_sql: "(SELECT c.uid FROM credentials c WHERE c.id = credential_versions.credential_id) || ':' || \
                      CAST(credential_versions.version AS TEXT)",
        aad_field: "secret",
    },
    SealedColumn {
        table: "credential_versions",
        column: "key_passphrase",
        key_sql: "CAST(credential_id AS TEXT) || ':' || CAST(version AS TEXT)",
        key: Key::IntPair("credential_id", "version"),
        aad_row_sql: "(SELECT c.uid FROM credentials c WHERE c.id = credential_versions.credential_id) || ':' || \
                      CAST(credential_versions.version AS TEXT)",
        aad_field: "key_passphrase",
    },
    // mysafe/items.rs `secret_aad(uid)`.
    by_id("mysafe_items", "secret", "uid"),
    // mysafe/files.rs `chunk_aad("<uid>:<seq>")` (http/mysafe/files.rs seals them).
    SealedColumn {
        table: "mysafe_file_chunks",
        column: "data",
        key_sql: "CAST(item_id AS TEXT) || ':' || CAST(seq AS TEXT)",
        key: Key::IntPair("item_id", "seq"),
        aad_row_sql: "(SELECT i.uid FROM mysafe_items i WHERE i.id = mysafe_file_chunks.item_id) || ':' || \
                      CAST(mysafe_file_chunks.seq AS TEXT)",
        aad_field: "data",
    },
    // dsm/secrets.rs `data_aad(uid)` and `version_aad("<uid>:<version>")`.
    by_id("dsm_secrets", "data", "uid"),
    SealedColumn {
        table: "dsm_secret_versions",
        column: "data",
        key_sql: "CAST(secret_id AS TEXT) || ':' || CAST(version AS TEXT)",
        key: Key::IntPair("secret_id", "version"),
        aad_row_sql: "(SELECT s.uid FROM dsm_secrets s WHERE s.id = dsm_secret_versions.secret_id) || ':' || \
                      CAST(dsm_secret_versions.version AS TEXT)",
        aad_field: "data",
    },
    // sessions/proxy.rs `request_aad(uid)`.
    by_id("session_requests", "record", "uid"),
    // sessions/recording.rs `chunk_aad(session_id, seq)` = ("<session_id>:<seq>", "chunk").
    SealedColumn {
        table: "session_recordings",
        column: "chunk",
        key_sql: "CAST(session AS TEXT) || ':' || CAST(seq AS TEXT)",
        key: Key::IntPair("session", "seq"),
        aad_row_sql: "(SELECT r.session_id FROM remote_sessions r WHERE r.id = session_recordings.session) || ':' || \
                      CAST(session_recordings.seq AS TEXT)",
        aad_field: "chunk",
    },
    // sessions/ssh.rs: Aad::new("gateway_keys", GATEWAY_KEY, "seed"), the row's name.
    SealedColumn {
        table: "gateway_keys",
        column: "sealed",
        key_sql: "name",
        key: Key::Text("name"),
        aad_row_sql: "name",
        aad_field: "seed",
    },
    // certificates.rs `key_aad(table, row)`: uid for authorities and certificates,
    // requests.rs `key_row(application_id, code)` = "<application_id>:<code>" for requests.
    by_id("certificate_authorities", "private_key", "uid"),
    by_id("certificate_requests", "private_key", "CAST(application_id AS TEXT) || ':' || code"),
    by_id("certificates", "private_key", "uid"),
    // certificates/publishing.rs `profile_row(application_id, name)` = "<application_id>:<name>".
    by_id("certificate_publish_profiles", "key_db_password", "CAST(application_id AS TEXT) || ':' || name"),
];

/// A row's primary key, read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyValue {
    Int(i64),
    Text(String),
    IntPair(i64, i64),
}

impl fmt::Display for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(v) => write!(f, "{v}"),
            Self::Text(v) => f.write_str(v),
            Self::IntPair(a, b) => write!(f, "{a}:{b}"),
        }
    }
}

/// One sealed value and where it is.
pub struct SealedRow {
    pub key: KeyValue,
    /// None when the row its AAD names is gone (an orphan).
    pub aad_row: Option<String>,
    pub blob: Vec<u8>,
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// The first four bytes after the format byte: the data key id, in each dialect.
fn key_id_sql(backend: Backend, column: &str) -> String {
    match backend {
        Backend::Sqlite => format!("substr({column}, 2, 4)"),
        Backend::Postgres => format!("substring({column} from 2 for 4)"),
    }
}

/// Which values a page holds, by their data key.
#[derive(Clone, Copy)]
pub enum Under {
    Any,
    Key(u32),
    NotKey(u32),
}

impl Store {
    /// A page of non-NULL values after `after` in key order, at most `limit`.
    pub async fn sealed_page(
        &self,
        column: &SealedColumn,
        after: Option<&KeyValue>,
        under: Under,
        limit: u64,
    ) -> StoreResult<Vec<SealedRow>> {
        let this = column;
        let columns = this.key.columns();
        let keys: Vec<String> = columns.iter().enumerate().map(|(i, c)| format!("{c} AS k{i}")).collect();
        let mut filters = vec![format!("{} IS NOT NULL", this.column)];
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if after.is_some() {
            filters.push(match this.key {
                Key::Int(c) | Key::Text(c) => format!("{c} > {}", next()),
                Key::IntPair(a, b) => format!("({a} > {} OR ({a} = {} AND {b} > {}))", next(), next(), next()),
            });
        }
        let header = key_id_sql(self.backend, this.column);
        match under {
            Under::Any => {}
            Under::Key(_) => filters.push(format!("{header} = {}", next())),
            Under::NotKey(_) => filters.push(format!("{header} <> {}", next())),
        }
        let sql = format!(
            "SELECT {}, {} AS aad_row, {} AS sealed FROM {} WHERE {} ORDER BY {} LIMIT {}",
            keys.join(", "),
            this.aad_row_sql,
            this.column,
            this.table,
            filters.join(" AND "),
            columns.join(", "),
            next(),
        );
        let mut query = sqlx::query(&sql);
        if let Some(after) = after {
            query = match after {
                KeyValue::Int(v) => query.bind(*v),
                KeyValue::Text(v) => query.bind(v.clone()),
                KeyValue::IntPair(a, b) => query.bind(*a).bind(*a).bind(*b),
            };
        }
        if let Under::Key(id) | Under::NotKey(id) = under {
            query = query.bind(id.to_be_bytes().to_vec());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(|r| decode(this, r)).collect()
    }
}

impl Store {
    /// Replaces the value of row `key` with `new`, only if it is still `old`.
    pub async fn sealed_compare_and_set(
        &self,
        column: &SealedColumn,
        key: &KeyValue,
        old: &[u8],
        new: Vec<u8>,
    ) -> StoreResult<bool> {
        let this = column;
        let (sql, query);
        match key {
            KeyValue::Int(v) => {
                sql = this.update_sql(&format!("{} = $2", this.key.columns()[0]), 3);
                query = sqlx::query(&sql).bind(new).bind(*v);
            }
            KeyValue::Text(v) => {
                sql = this.update_sql(&format!("{} = $2", this.key.columns()[0]), 3);
                query = sqlx::query(&sql).bind(new).bind(v.clone());
            }
            KeyValue::IntPair(a, b) => {
                let c = this.key.columns();
                sql = this.update_sql(&format!("{} = $2 AND {} = $3", c[0], c[1]), 4);
                query = sqlx::query(&sql).bind(new).bind(*a).bind(*b);
            }
        }
        let query: AnyQuery<'_> = query.bind(old.to_vec());
        let done = query.execute(&self.writer).await?;
        Ok(done.rows_affected() == 1)
    }
}

impl SealedColumn {
    /// Where the table keeps a revision, the move bumps it: a writer that read the row before
    /// the move and writes its (old-key) blobs back fails its revision check and reads again,
    /// so no value stays under a data key that is about to be retired.
    fn update_sql(&self, key_filter: &str, old_param: usize) -> String {
        let bump = if REVISIONED.contains(&self.table) { ", revision = revision + 1" } else { "" };
        format!(
            "UPDATE {} SET {} = $1{bump} WHERE {key_filter} AND {} = ${old_param}",
            self.table, self.column, self.column
        )
    }
}

fn decode(column: &SealedColumn, row: &AnyRow) -> StoreResult<SealedRow> {
    let get = StoreError::from;
    let key = match column.key {
        Key::Int(_) => KeyValue::Int(row.try_get("k0").map_err(get)?),
        Key::Text(_) => KeyValue::Text(row.try_get("k0").map_err(get)?),
        Key::IntPair(..) => KeyValue::IntPair(row.try_get("k0").map_err(get)?, row.try_get("k1").map_err(get)?),
    };
    Ok(SealedRow { key, aad_row: row.try_get("aad_row").map_err(get)?, blob: row.try_get("sealed").map_err(get)? })
}
