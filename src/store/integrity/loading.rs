//! Loading a backup's rows into an empty store, in one transaction: nothing is visible until
//! `finish`, and a failure leaves the store as empty as it was.
//!
//! PostgreSQL checks each reference as its row goes in. Tables come parents first
//! (`references.rs`), but no table order serves a reference to a later row of the same table, a
//! cycle between tables, or a backup whose tables came in another order (those taken before
//! the order was computed followed creation order). Such a reference, when its column takes
//! NULL, goes in as NULL and is set at the end, once every row it may point at is in; the
//! store checks it then. SQLite defers its checks to the commit anyway.

use sqlx::Row;
use sqlx::any::AnyArguments;
use sqlx::query::Query;

use super::references::Reference;
use super::snapshot::{Cell, Column, ColumnKind, SEEDED, quoted};
use crate::store::pam::keys::WrappedKey;
use crate::store::{Backend, Store, StoreResult};

impl Store {
    /// Opens the transaction a restore loads into.
    pub async fn begin_load(&self) -> StoreResult<Loader> {
        let references = self.references().await?;
        let mut tx = self.writer.begin("restore").await?;
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA defer_foreign_keys = ON").execute(&mut *tx).await?;
        }
        for table in SEEDED {
            sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *tx).await?;
        }
        Ok(Loader { tx, backend: self.backend, references, started: Vec::new(), last: Vec::new() })
    }
}

/// A restore under way: rows go in, and nothing is visible until `finish`.
pub struct Loader {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    /// The target's references, from its catalog.
    references: Vec<Reference>,
    /// Tables whose rows have begun to arrive, the one arriving now last.
    started: Vec<String>,
    /// References loaded last, table by table.
    last: Vec<Deferred>,
}

/// Rows of `table` whose late columns are set at the end: each row's key, then its values.
struct Deferred {
    table: String,
    /// The columns' positions in the table's rows.
    key_at: Vec<usize>,
    late_at: Vec<usize>,
    key: Vec<Column>,
    late: Vec<Column>,
    rows: Vec<(Vec<Cell>, Vec<Cell>)>,
}

impl Loader {
    /// Rows of `table`, with these `columns`, come next. Its references to itself, and to
    /// tables whose rows have not come yet, wait for the end when they can: the column takes
    /// NULL, and a primary key names the row to set them on.
    pub fn start_table(&mut self, table: &str, columns: &[Column]) {
        let key: Vec<usize> = (0..columns.len()).filter(|&i| columns[i].primary).collect();
        let late: Vec<usize> = (0..columns.len())
            .filter(|&i| {
                let column = &columns[i];
                column.nullable
                    && !column.primary
                    && self.references.iter().any(|r| {
                        r.table == table
                            && r.column == column.name
                            && (r.parent == table || !self.started.contains(&r.parent))
                    })
            })
            .collect();
        if !late.is_empty() && !key.is_empty() {
            self.last.push(Deferred {
                table: table.to_owned(),
                key: key.iter().map(|&i| columns[i].clone()).collect(),
                late: late.iter().map(|&i| columns[i].clone()).collect(),
                key_at: key,
                late_at: late,
                rows: Vec::new(),
            });
        }
        self.started.push(table.to_owned());
    }

    /// Inserts `rows` (cells in `columns` order) into `table`, whose names the caller has
    /// checked against the store's catalog.
    pub async fn insert(&mut self, table: &str, columns: &[Column], rows: &[Vec<Cell>]) -> StoreResult<()> {
        if rows.is_empty() || columns.is_empty() {
            return Ok(());
        }
        let held;
        let rows = match self.deferred(table) {
            Some(deferred) => {
                held = hold_back(deferred, rows);
                held.as_slice()
            }
            None => rows,
        };
        // Stay well under SQLite's and PostgreSQL's limits on bound parameters.
        let per_statement = (30_000 / columns.len()).clamp(1, 500);
        let names: Vec<String> = columns.iter().map(|c| quoted(&c.name)).collect();
        for chunk in rows.chunks(per_statement) {
            let mut sql = format!("INSERT INTO {} ({}) VALUES ", quoted(table), names.join(", "));
            let mut n = 0;
            for (i, _) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                let params: Vec<String> = (0..columns.len())
                    .map(|_| {
                        n += 1;
                        format!("${n}")
                    })
                    .collect();
                sql.push('(');
                sql.push_str(&params.join(", "));
                sql.push(')');
            }
            let mut query = sqlx::query(&sql);
            for row in chunk {
                for (cell, column) in row.iter().zip(columns) {
                    query = bind(query, cell, column.kind);
                }
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// What waits for the end of `table`, the table whose rows arrive now.
    fn deferred(&mut self, table: &str) -> Option<&mut Deferred> {
        if self.started.last().is_none_or(|t| t != table) {
            return None;
        }
        self.last.last_mut().filter(|d| d.table == table)
    }

    /// The data keys loaded so far, as the restore re-wraps them.
    pub async fn data_keys(&mut self) -> StoreResult<Vec<WrappedKey>> {
        let rows =
            sqlx::query("SELECT id, kek_id, wrapped_key FROM data_keys ORDER BY id").fetch_all(&mut *self.tx).await?;
        rows.iter()
            .map(|r| {
                Ok(WrappedKey {
                    id: r.try_get("id")?,
                    kek_id: r.try_get("kek_id")?,
                    wrapped: r.try_get("wrapped_key")?,
                })
            })
            .collect()
    }

    /// Data key `id`, now wrapped by master key `kek_id`.
    pub async fn rewrap_data_key(&mut self, id: i64, kek_id: i64, wrapped: &[u8]) -> StoreResult<()> {
        sqlx::query("UPDATE data_keys SET kek_id = $1, wrapped_key = $2 WHERE id = $3")
            .bind(kek_id)
            .bind(wrapped)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Sets the references held back, moves PostgreSQL's identity counters past the loaded
    /// ids, then commits.
    pub async fn finish(mut self, tables: &[(String, Vec<Column>)]) -> StoreResult<()> {
        for deferred in std::mem::take(&mut self.last) {
            let sets: Vec<String> =
                deferred.late.iter().enumerate().map(|(i, c)| format!("{} = ${}", quoted(&c.name), i + 1)).collect();
            let keys: Vec<String> = deferred
                .key
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{} = ${}", quoted(&c.name), deferred.late.len() + i + 1))
                .collect();
            let sql =
                format!("UPDATE {} SET {} WHERE {}", quoted(&deferred.table), sets.join(", "), keys.join(" AND "));
            for (key, values) in &deferred.rows {
                let mut query = sqlx::query(&sql);
                for (cell, column) in values.iter().zip(&deferred.late).chain(key.iter().zip(&deferred.key)) {
                    query = bind(query, cell, column.kind);
                }
                query.execute(&mut *self.tx).await?;
            }
        }
        if self.backend == Backend::Postgres {
            for (table, columns) in tables {
                if columns.iter().any(|c| c.name == "id" && c.kind == ColumnKind::Int) {
                    let sql = format!(
                        "SELECT setval(pg_get_serial_sequence($1, 'id'), (SELECT COALESCE(MAX(id), 0) + 1 FROM {}), false)",
                        quoted(table)
                    );
                    sqlx::query(&sql).bind(table.as_str()).execute(&mut *self.tx).await?;
                }
            }
        }
        self.tx.commit().await?;
        Ok(())
    }
}

/// `rows` with their late cells NULL; the values are kept, by row key, for `finish`.
fn hold_back(deferred: &mut Deferred, rows: &[Vec<Cell>]) -> Vec<Vec<Cell>> {
    rows.iter()
        .map(|row| {
            let values: Vec<Cell> = deferred.late_at.iter().map(|&i| row[i].clone()).collect();
            if values.iter().all(|v| *v == Cell::Null) {
                return row.clone();
            }
            deferred.rows.push((deferred.key_at.iter().map(|&i| row[i].clone()).collect(), values));
            let mut row = row.clone();
            for &i in &deferred.late_at {
                row[i] = Cell::Null;
            }
            row
        })
        .collect()
}

fn bind<'q>(
    query: Query<'q, sqlx::Any, AnyArguments<'q>>,
    cell: &'q Cell,
    kind: ColumnKind,
) -> Query<'q, sqlx::Any, AnyArguments<'q>> {
    match (cell, kind) {
        (Cell::Null, ColumnKind::Int) => query.bind(None::<i64>),
        (Cell::Null, ColumnKind::Text) => query.bind(None::<String>),
        (Cell::Null, ColumnKind::Bytes) => query.bind(None::<Vec<u8>>),
        (Cell::Int(v), _) => query.bind(*v),
        (Cell::Text(v), _) => query.bind(v.as_str()),
        (Cell::Bytes(v), _) => query.bind(v.0.as_slice()),
    }
}
