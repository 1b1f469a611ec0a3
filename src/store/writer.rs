//! The store's one write path. A statement or transaction through `ChangeWriter` made within an
//! audited request (`domain::audit::request`) commits, with its change, a pending audit row
//! naming the request and the write. The audit batch that chains the request's successful record
//! deletes that row in its own transaction; recovery chains any row left over
//! (`service::audit`). So a change never commits without an audit record, or the means to make
//! one, committing with it.
//!
//! A single statement on PostgreSQL stays one statement, and one round trip: the pending row is
//! prepended as a CTE (`WITH pending_audit_row AS (INSERT …) <statement>`). On SQLite it is a
//! transaction of both, sent as one call to the one in-process writer connection. A statement
//! that changed no row takes its pending row back, so a conditional write that lost leaves
//! nothing to recover. A transaction's pending row is its first statement and rolls back with
//! it.

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt, TryStreamExt, stream};
use sqlx::any::{AnyArguments, AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Arguments, Describe, Either, Execute, Executor, Transaction};

use super::{Backend, StoreResult};
use crate::domain::audit::request::{self, PendingWrite};

/// The columns of `pending_audit`, in the order `bind_pending` binds them.
pub(super) const PENDING_COLUMNS: &str =
    "key, request_id, at_ms, client_ip, application_id, authorization_id, method, route, write, detail";
const PENDING_VALUES: usize = 10;
/// A write that changed nothing takes its pending row back.
const TAKE_BACK: &str = "DELETE FROM pending_audit WHERE request_id = $1 AND key = $2";

/// Writes, and transactions, through one pool (SQLite: its one writer connection).
#[derive(Clone, Debug)]
pub struct ChangeWriter {
    pool: AnyPool,
    backend: Backend,
}

type Step = Either<AnyQueryResult, AnyRow>;

impl ChangeWriter {
    pub(super) fn new(pool: AnyPool, backend: Backend) -> Self {
        Self { pool, backend }
    }

    /// The same connections, for writes that are not changes of vault data made on a
    /// request's behalf, and leave no pending row: the audit trail itself (`store/audit.rs`),
    /// readiness heartbeats, job leases, the authentication guard's nonces and failure counters
    /// (every signed or failed request writes them; they hold no vault data), the log of
    /// credential reveals (a record of reads for dashboards) and remote-session liveness. The
    /// request's own record covers them, as it does reads.
    pub(super) fn untracked(&self) -> &AnyPool {
        &self.pool
    }

    /// Opens a transaction for the change `write` names (the store method's name). Within a
    /// request its first statement is the pending row. On SQLite it takes the write lock at
    /// once (`BEGIN IMMEDIATE`).
    pub(super) async fn begin(&self, write: &str) -> StoreResult<Transaction<'static, Any>> {
        let mut tx = match self.backend {
            // A write transaction from its start: what it reads, no other writer (another
            // process on the file) changes before it commits (see `change.rs`).
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        if let Some(request) = request::current() {
            insert_pending(&mut tx, &request.pending_write(write.to_owned())).await?;
        }
        Ok(tx)
    }

    /// The pending row for `sql`, when it changes something and runs within a request.
    fn pending_for(&self, sql: &str) -> Option<PendingWrite> {
        let request = request::current()?;
        Some(request.pending_write(write_name(sql)?))
    }

    async fn tracked<'a>(
        &self,
        sql: &'a str,
        mut args: AnyArguments<'a>,
        pending: PendingWrite,
    ) -> Result<Vec<Step>, sqlx::Error> {
        match self.backend {
            Backend::Postgres => {
                let first = args.len() + 1;
                bind_pending(&mut args, &pending)?;
                let sql = with_pending(sql, first);
                let steps: Vec<Step> = self.pool.fetch_many((sql.as_str(), Some(args))).try_collect().await?;
                if changed_nothing(&steps) {
                    sqlx::query(TAKE_BACK).bind(&pending.request_id).bind(&pending.key).execute(&self.pool).await?;
                }
                Ok(steps)
            }
            Backend::Sqlite => self.tracked_on_sqlite(sql, args, &pending).await,
        }
    }

    /// SQLite: the transaction in one call, as each call is a trip to the connection's thread
    /// and the one writer connection waits through them all (with `BEGIN` and `COMMIT` as calls
    /// of their own, writes were a quarter slower). The pending row is taken back in the
    /// transaction when the statement changed no row (`changes()`). A failure leaves the
    /// transaction open: it is rolled back, or the connection closed (which rolls it back), as
    /// it is if this future is dropped midway; the pool then opens another.
    async fn tracked_on_sqlite<'a>(
        &self,
        sql: &'a str,
        mut args: AnyArguments<'a>,
        pending: &PendingWrite,
    ) -> Result<Vec<Step>, sqlx::Error> {
        let first = args.len() + 1;
        bind_pending(&mut args, pending)?;
        let (request, key) = (first + 1, first);
        let sql = sql.trim_end().trim_end_matches(';');
        let whole = format!(
            "BEGIN; INSERT INTO pending_audit ({PENDING_COLUMNS}) VALUES ({}); {sql}; \
             DELETE FROM pending_audit WHERE request_id = ${request} AND key = ${key} AND changes() = 0; COMMIT",
            placeholders(first)
        );
        let mut connection = Unfinished(Some(self.pool.acquire().await?));
        let Some(conn) = connection.0.as_deref_mut() else { return Err(sqlx::Error::PoolClosed) };
        match run(conn, &whole, args).await {
            Ok(steps) => {
                connection.finished();
                Ok(statement_steps(steps))
            }
            Err(e) => {
                if run(conn, "ROLLBACK", AnyArguments::default()).await.is_ok() {
                    connection.finished();
                }
                Err(e)
            }
        }
    }
}

async fn run<'c>(conn: &'c mut AnyConnection, sql: &'c str, args: AnyArguments<'c>) -> Result<Vec<Step>, sqlx::Error> {
    conn.fetch_many((sql, Some(args))).try_collect().await
}

/// A writer connection inside a transaction of its own making: unless finished, it is closed
/// rather than returned to the pool, which rolls the transaction back.
struct Unfinished(Option<PoolConnection<Any>>);

impl Unfinished {
    fn finished(&mut self) {
        drop(self.0.take());
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(connection) = self.0.take() {
            drop(connection.detach());
        }
    }
}

/// The steps of the statement in `BEGIN; INSERT …; statement; DELETE …; COMMIT`: those after
/// the first two statements' results, up to and with the third's.
fn statement_steps(steps: Vec<Step>) -> Vec<Step> {
    let mut done = 0;
    let mut kept = Vec::new();
    for step in steps {
        let is_done = step.is_left();
        if done == 2 {
            kept.push(step);
        }
        done += usize::from(is_done);
        if done == 3 {
            break;
        }
    }
    kept
}

impl<'c> Executor<'c> for &'c ChangeWriter {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(self, mut query: E) -> BoxStream<'e, Result<Step, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        let Some(pending) = self.pending_for(query.sql()) else {
            return self.pool.fetch_many(query);
        };
        let sql = query.sql();
        let args = query.take_arguments();
        async move {
            let args = args.map_err(sqlx::Error::Encode)?.unwrap_or_default();
            self.tracked(sql, args, pending).await
        }
        .map(|done| {
            stream::iter(match done {
                Ok(steps) => steps.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            })
        })
        .flatten_stream()
        .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        if request::current().is_none() || write_name(query.sql()).is_none() {
            return self.pool.fetch_optional(query);
        }
        let steps = self.fetch_many(query);
        async move {
            let steps: Vec<Step> = steps.try_collect().await?;
            Ok(steps.into_iter().find_map(|s| s.right()))
        }
        .boxed()
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.pool.prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<Any>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.pool.describe(sql)
    }
}

async fn insert_pending(conn: &mut AnyConnection, pending: &PendingWrite) -> Result<(), sqlx::Error> {
    let sql = format!("INSERT INTO pending_audit ({PENDING_COLUMNS}) VALUES ({})", placeholders(1));
    let mut args = AnyArguments::default();
    bind_pending(&mut args, pending)?;
    conn.execute((sql.as_str(), Some(args))).await?;
    Ok(())
}

fn bind_pending(args: &mut AnyArguments<'_>, p: &PendingWrite) -> Result<(), sqlx::Error> {
    encoded(args.add(p.key.clone()))?;
    encoded(args.add(p.request_id.clone()))?;
    encoded(args.add(p.at_ms))?;
    encoded(args.add(p.client_ip.clone()))?;
    encoded(args.add(p.application_id))?;
    encoded(args.add(p.authorization_id))?;
    encoded(args.add(p.method.clone()))?;
    encoded(args.add(p.route.clone()))?;
    encoded(args.add(p.write.clone()))?;
    encoded(args.add(p.detail.clone()))
}

fn encoded(added: Result<(), sqlx::error::BoxDynError>) -> Result<(), sqlx::Error> {
    added.map_err(sqlx::Error::Encode)
}

/// `$first, …` for the pending row's values.
fn placeholders(first: usize) -> String {
    (first..first + PENDING_VALUES).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// `sql` with the pending row's insert as its first CTE, its values from `$first` on.
fn with_pending(sql: &str, first: usize) -> String {
    let insert = format!(
        "pending_audit_row AS (INSERT INTO pending_audit ({PENDING_COLUMNS}) VALUES ({}))",
        placeholders(first)
    );
    let sql = sql.trim_start();
    let (word, rest) = sql.split_once(char::is_whitespace).unwrap_or((sql, ""));
    if !word.eq_ignore_ascii_case("WITH") {
        return format!("WITH {insert} {sql}");
    }
    let rest = rest.trim_start();
    match rest.split_once(char::is_whitespace) {
        Some((recursive, definitions)) if recursive.eq_ignore_ascii_case("RECURSIVE") => {
            format!("WITH RECURSIVE {insert}, {definitions}")
        }
        _ => format!("WITH {insert}, {rest}"),
    }
}

/// What a statement changes, as its verb and table (`INSERT protected_info`); `None` for a
/// statement that changes nothing (a read through the writer).
fn write_name(sql: &str) -> Option<String> {
    let words: Vec<String> = sql.split_whitespace().map(|w| w.trim_start_matches('(').to_ascii_uppercase()).collect();
    let first = words.first()?;
    if !matches!(first.as_str(), "INSERT" | "UPDATE" | "DELETE" | "WITH") {
        return None;
    }
    let original: Vec<&str> = sql.split_whitespace().collect();
    let table = |i: usize| {
        let word = original.get(i).copied().unwrap_or_default();
        word.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).find(|s| !s.is_empty()).unwrap_or_default()
    };
    let found = words.iter().enumerate().find_map(|(i, w)| {
        let next = words.get(i + 1).map(String::as_str);
        match (w.as_str(), next) {
            ("INSERT", Some("INTO")) => Some(format!("INSERT {}", table(i + 2))),
            ("UPDATE", _) => Some(format!("UPDATE {}", table(i + 1))),
            ("DELETE", Some("FROM")) => Some(format!("DELETE {}", table(i + 2))),
            _ => None,
        }
    });
    Some(found.unwrap_or_else(|| first.clone()))
}

/// A statement's steps say it changed no row and returned none.
fn changed_nothing(steps: &[Step]) -> bool {
    steps.iter().all(|s| matches!(s, Either::Left(done) if done.rows_affected() == 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_named_by_verb_and_table() {
        let named = |sql: &str| write_name(sql);
        assert_eq!(named("INSERT INTO protected_info (uid) VALUES ($1)").as_deref(), Some("INSERT protected_info"));
        assert_eq!(named("  UPDATE mysafe_items SET x = 1").as_deref(), Some("UPDATE mysafe_items"));
        assert_eq!(named("DELETE FROM issued_tokens WHERE id = $1").as_deref(), Some("DELETE issued_tokens"));
        assert_eq!(
            named("INSERT INTO users(a) VALUES ($1) ON CONFLICT DO UPDATE SET a = 1").as_deref(),
            Some("INSERT users")
        );
        assert_eq!(
            named("WITH c AS (SELECT 1) UPDATE credentials SET v = 2 FROM c").as_deref(),
            Some("UPDATE credentials")
        );
        assert_eq!(named("SELECT * FROM credentials"), None);
        assert_eq!(named("select 1"), None);
    }

    #[test]
    fn the_pending_row_is_the_statements_first_cte() {
        let cte = "pending_audit_row AS (INSERT INTO pending_audit (key, request_id, at_ms, client_ip, application_id, \
                   authorization_id, method, route, write, detail) VALUES ($3, $4, $5, $6, $7, $8, $9, $10, $11, $12))";
        assert_eq!(
            with_pending("UPDATE t SET a = $1 WHERE b = $2", 3),
            format!("WITH {cte} UPDATE t SET a = $1 WHERE b = $2")
        );
        assert_eq!(
            with_pending("WITH x AS (SELECT 1) DELETE FROM t", 3),
            format!("WITH {cte}, x AS (SELECT 1) DELETE FROM t")
        );
        assert_eq!(
            with_pending("with recursive x AS (SELECT 1) DELETE FROM t", 3),
            format!("WITH RECURSIVE {cte}, x AS (SELECT 1) DELETE FROM t")
        );
    }

    #[test]
    fn the_statements_steps_are_told_from_the_transactions() {
        let done = |n: u64| Either::Left(AnyQueryResult { rows_affected: n, last_insert_id: None });
        let steps = vec![done(0), done(1), done(2), done(0), done(0)];
        let kept = statement_steps(steps);
        assert_eq!(kept.len(), 1);
        assert!(matches!(&kept[0], Either::Left(d) if d.rows_affected() == 2));
    }

    #[test]
    fn only_a_statement_that_touched_no_row_changed_nothing() {
        assert!(changed_nothing(&[Either::Left(AnyQueryResult::default())]));
        assert!(changed_nothing(&[]));
    }
}
