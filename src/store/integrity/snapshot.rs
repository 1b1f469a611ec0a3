//! Every row of every table, read in one consistent snapshot and loaded back in one
//! transaction (`loading.rs`): the store side of backups, restores and moving to another store.
//! Tables are taken in dependency order (`references.rs`: parents before the tables that
//! reference them) and rows in key order; names always come from the store's own catalog, never
//! from a file.

use futures_util::StreamExt;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::store::{Backend, Store, StoreError, StoreResult};

/// Tables that are the store's machinery rather than its content.
const SKIPPED: [&str; 2] = ["_sqlx_migrations", "sqlite_sequence"];

/// Tables the migrations fill: a fresh store has these rows, and a restore replaces them.
pub(super) const SEEDED: [&str; 2] = ["audit_chain", "dsm_engines"];

/// One stored value; every cofre column is an integer, text or bytes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
    Bytes(#[serde(with = "base64_cell")] Base64),
}

/// Bytes, kept apart from text in a backup by their `{"b": "…"}` form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Base64(pub Vec<u8>);

mod base64_cell {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Tagged {
        b: String,
    }

    pub fn serialize<S: Serializer>(bytes: &super::Base64, s: S) -> Result<S::Ok, S::Error> {
        Tagged { b: STANDARD.encode(&bytes.0) }.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<super::Base64, D::Error> {
        let tagged = Tagged::deserialize(d)?;
        STANDARD.decode(tagged.b).map(super::Base64).map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    Int,
    Text,
    Bytes,
}

#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub kind: ColumnKind,
    /// Whether it takes NULL (a reference loaded last is NULL until then).
    pub nullable: bool,
    /// Whether it is (part of) the table's primary key, which names a row to update.
    pub primary: bool,
}

/// What a snapshot hands its sink, in order: a table, then its rows.
pub enum SnapshotItem<'a> {
    Table { name: &'a str, columns: &'a [Column] },
    Row(Vec<Cell>),
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Sink(std::io::Error),
}

impl From<sqlx::Error> for SnapshotError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

impl Store {
    /// The newest migration this store has applied.
    pub async fn schema_version(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT MAX(version) AS v FROM _sqlx_migrations").fetch_one(&self.pool).await?;
        Ok(row.try_get::<Option<i64>, _>("v")?.unwrap_or(0))
    }

    /// The newest migration this build knows.
    pub fn known_schema_version(&self) -> i64 {
        let migrator = match self.backend {
            Backend::Sqlite => &super::super::SQLITE_MIGRATIONS,
            Backend::Postgres => &super::super::POSTGRES_MIGRATIONS,
        };
        migrator.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// The content tables, each after the tables it references (creation order otherwise).
    pub async fn tables(&self) -> StoreResult<Vec<String>> {
        let created = self.tables_in_creation_order().await?;
        Ok(super::references::dependency_order(&created, &self.references().await?))
    }

    async fn tables_in_creation_order(&self) -> StoreResult<Vec<String>> {
        let sql = match self.backend {
            Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid",
            Backend::Postgres => {
                "SELECT CAST(c.relname AS TEXT) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY c.oid"
            }
        };
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        let mut names = Vec::with_capacity(rows.len());
        for r in rows {
            let name: String = r.try_get("name")?;
            if !SKIPPED.contains(&name.as_str()) {
                names.push(name);
            }
        }
        Ok(names)
    }

    pub async fn columns(&self, table: &str) -> StoreResult<Vec<Column>> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT name, type, CASE WHEN \"notnull\" = 0 THEN 1 ELSE 0 END AS nullable, \
                 CASE WHEN pk > 0 THEN 1 ELSE 0 END AS \"primary\" FROM pragma_table_info($1) ORDER BY cid"
            }
            Backend::Postgres => {
                "SELECT CAST(a.attname AS TEXT) AS name, CAST(format_type(a.atttypid, a.atttypmod) AS TEXT) AS type, \
                 CAST(CASE WHEN a.attnotnull THEN 0 ELSE 1 END AS BIGINT) AS nullable, \
                 CAST(CASE WHEN EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary \
                   AND a.attnum = ANY (i.indkey)) THEN 1 ELSE 0 END AS BIGINT) AS \"primary\" \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relname = $1 AND a.attnum > 0 AND NOT a.attisdropped \
                 ORDER BY a.attnum"
            }
        };
        let rows = sqlx::query(sql).bind(table).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let declared = r.try_get::<String, _>("type")?.to_ascii_lowercase();
                let kind = if declared.contains("int") {
                    ColumnKind::Int
                } else if declared.contains("blob") || declared.contains("bytea") {
                    ColumnKind::Bytes
                } else {
                    ColumnKind::Text
                };
                Ok(Column {
                    name: r.try_get("name")?,
                    kind,
                    nullable: r.try_get::<i64, _>("nullable")? == 1,
                    primary: r.try_get::<i64, _>("primary")? == 1,
                })
            })
            .collect()
    }

    /// Rows in `table` (the audit chain's head counts when it has moved).
    pub async fn count_rows(&self, table: &str) -> StoreResult<i64> {
        let sql = if table == "audit_chain" {
            "SELECT COUNT(*) AS n FROM audit_chain WHERE seq > 0".to_owned()
        } else {
            format!("SELECT COUNT(*) AS n FROM {}", quoted(table))
        };
        Ok(sqlx::query(&sql).fetch_one(&self.pool).await?.try_get("n")?)
    }

    /// Hands `sink` every table and row as of one moment: a repeatable-read transaction on
    /// PostgreSQL, a read transaction (one WAL snapshot) on SQLite. Writes go on meanwhile.
    pub async fn snapshot(
        &self,
        mut sink: impl FnMut(SnapshotItem<'_>) -> std::io::Result<()>,
    ) -> Result<(), SnapshotError> {
        let tables = self.tables().await?;
        let mut described = Vec::with_capacity(tables.len());
        for table in tables {
            let columns = self.columns(&table).await?;
            described.push((table, columns));
        }
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        }
        for (table, columns) in &described {
            sink(SnapshotItem::Table { name: table, columns }).map_err(SnapshotError::Sink)?;
            let names: Vec<String> = columns.iter().map(|c| quoted(&c.name)).collect();
            let order = if columns.iter().any(|c| c.name == "id") { "id".to_owned() } else { names.join(", ") };
            let sql = format!("SELECT {} FROM {} ORDER BY {order}", names.join(", "), quoted(table));
            let mut rows = sqlx::query(&sql).fetch(&mut *tx);
            while let Some(row) = rows.next().await {
                sink(SnapshotItem::Row(cells(&row?, columns)?)).map_err(SnapshotError::Sink)?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Whether every content table is empty (a fresh store, as `migrate` leaves it).
    pub async fn is_empty(&self) -> StoreResult<Option<String>> {
        for table in self.tables().await? {
            if table != "audit_chain" && SEEDED.contains(&table.as_str()) {
                continue;
            }
            if self.count_rows(&table).await? > 0 {
                return Ok(Some(table));
            }
        }
        Ok(None)
    }
}

fn cells(row: &AnyRow, columns: &[Column]) -> StoreResult<Vec<Cell>> {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(match c.kind {
                ColumnKind::Int => row.try_get::<Option<i64>, _>(i)?.map_or(Cell::Null, Cell::Int),
                ColumnKind::Text => row.try_get::<Option<String>, _>(i)?.map_or(Cell::Null, Cell::Text),
                ColumnKind::Bytes => {
                    row.try_get::<Option<Vec<u8>>, _>(i)?.map_or(Cell::Null, |b| Cell::Bytes(Base64(b)))
                }
            })
        })
        .collect()
}

/// A catalog name as an SQL identifier.
pub(super) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
