//! Persistence. One `Store` serves SQLite (embedded default) and PostgreSQL, chosen by URL scheme.
//!
//! Both dialects share every query: sqlx's `Any` driver passes `$N` placeholders to both, the
//! migrations keep types to BIGINT/TEXT/BLOB (booleans as 0/1), and times are unix integers. Where
//! the dialects must differ, a query branches on `Store::backend`. The store takes and returns
//! domain values and sealed bytes; it never sees a plaintext secret.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod certificates;
pub mod change;
pub mod dashboards;
pub mod dsm;
mod durability;
mod failover;
mod heartbeat;
pub mod hosts;
pub mod integrity;
pub mod mysafe;
mod outage;
pub mod pam;
pub mod scim;
pub mod sessions;
mod write_health;
mod writer;
mod written;

use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{Executor, Row};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Applied on every SQLite connection: WAL for concurrent readers, NORMAL so a commit does not
/// flush on its own (`Store::sync` flushes for many commits at once, before any of them is
/// acknowledged: see `durability`), foreign keys enforced, and a wait instead of SQLITE_BUSY
/// under write load.
const SQLITE_PRAGMAS: &str =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    /// Reads (and, on PostgreSQL, writes).
    pool: AnyPool,
    /// Writes and transactions: one connection on SQLite, the same pool on PostgreSQL. Within a
    /// request, each change through it commits a pending audit row with it (`writer.rs`).
    writer: writer::ChangeWriter,
    backend: Backend,
    /// SQLite's WAL, flushed by `sync` (none on PostgreSQL and for in-memory databases).
    wal: Option<std::sync::Arc<durability::WalSync>>,
    recent: std::sync::Arc<auth::recent::RecentAuthorizations>,
    /// Whether writes fail, and whether SQLite's writer connection must be replaced.
    health: std::sync::Arc<write_health::WriteHealth>,
    /// With several PostgreSQL hosts: the task that moves the pool to the primary.
    _primary_watch: Option<std::sync::Arc<failover::Watch>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("row not found")]
    NotFound,
    #[error("unique constraint violated")]
    Conflict,
    /// The row changed since it was read: a write based on the stale read was not applied.
    #[error("the row changed since it was read")]
    Stale,
    #[error("store unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("store error: {0}")]
    Other(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(d) if d.is_unique_violation() => Self::Conflict,
            cause if outage::is_outage(cause) => Self::Unavailable(e),
            _ => Self::Other(e),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

impl Store {
    /// Opens a pool for `url` (`sqlite:` or `postgres:`), creating the SQLite file if needed. A
    /// PostgreSQL URL may list several hosts (libpq's form): see `failover`.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres };
        let mut wal = None;
        if let (Backend::Sqlite, Some(file)) = (backend, sqlite_file(url)) {
            restrict_sqlite_files(file).map_err(|e| StoreError::Unavailable(sqlx::Error::Io(e)))?;
            wal = Some(std::sync::Arc::new(durability::WalSync::for_database(file)));
        }
        let health = std::sync::Arc::new(write_health::WriteHealth::default());
        let (pool, writer, primary_watch) = match backend {
            Backend::Sqlite => {
                // SQLite's file cannot be unreachable; its pools only queue.
                let pool = sqlite_pool_options(max_connections, Duration::from_secs(5)).connect_lazy(url)?;
                drop(pool.acquire().await?);
                // SQLite takes one writer at a time: writes queue here, in order, rather than
                // retrying its lock in the busy handler's sleeps. After a write failed as an
                // outage the connection is replaced before its next use (see `write_health`).
                let replaced = health.clone();
                let writer = sqlite_pool_options(1, Duration::from_secs(10))
                    .before_acquire(move |_, _| {
                        let keep = replaced.keep_writer_connection();
                        Box::pin(async move { Ok(keep) })
                    })
                    .connect(url)
                    .await?;
                (pool, writer, None)
            }
            Backend::Postgres => {
                let (pool, watch) = connect_postgres(url, max_connections).await?;
                (pool.clone(), pool, watch.map(std::sync::Arc::new))
            }
        };
        let writer = writer::ChangeWriter::new(writer, backend);
        let recent = std::sync::Arc::new(auth::recent::RecentAuthorizations::new());
        Ok(Self { pool, writer, backend, wal, recent, health, _primary_watch: primary_watch })
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The raw pool, for tests that inspect or tamper with rows directly.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Connections open and idle in the read pool and the write pool (the same pool on
    /// PostgreSQL, reported once).
    pub fn pool_stats(&self) -> Vec<(&'static str, u32, usize)> {
        let mut stats = vec![("read", self.pool.size(), self.pool.num_idle())];
        if self.backend == Backend::Sqlite {
            let writer = self.writer.untracked();
            stats.push(("write", writer.size(), writer.num_idle()));
        }
        stats
    }

    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Flushes what this process committed, then closes the pool.
    pub async fn close(&self) {
        if let Err(e) = self.sync().await {
            tracing::error!(error.cause = %e, "could not flush the database before closing");
        }
        self.writer.untracked().close().await;
        self.pool.close().await;
    }
}

/// How long a PostgreSQL query waits for a connection (a free one, or a new one while the server
/// refuses) before the store counts as unavailable.
const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a starting process waits for its database server to come up.
const STARTUP_WAIT: Duration = Duration::from_secs(10);

/// A PostgreSQL pool on the URL's one host, or on the first suitable host of a multi-host URL
/// with the watch that follows the primary. A server that is down refuses connections at once,
/// but the pool retries until its acquire timeout: kept short, an outage answers 503 in seconds,
/// not after the request's whole deadline.
async fn connect_postgres(url: &str, max_connections: u32) -> StoreResult<(AnyPool, Option<failover::Watch>)> {
    let options = returned_outside_transactions(
        AnyPoolOptions::new().max_connections(max_connections).acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT),
    );
    let hosts =
        hosts::PostgresHosts::parse(url).map_err(|why| StoreError::Other(sqlx::Error::Configuration(why.into())))?;
    if hosts.is_multi_host() {
        let (pool, watch) = failover::connect(hosts, options, STARTUP_WAIT).await?;
        return Ok((pool, Some(watch)));
    }
    let pool = options.connect_lazy(url)?;
    wait_for_server(&pool).await?;
    Ok((pool, None))
}

/// At start the PostgreSQL server may still be coming up (started together with cofre):
/// connecting is retried for a while, where a request would give up after the acquire timeout.
async fn wait_for_server(pool: &AnyPool) -> StoreResult<()> {
    let started = std::time::Instant::now();
    loop {
        match pool.acquire().await {
            Ok(_) => return Ok(()),
            Err(e) if started.elapsed() < STARTUP_WAIT && outage::is_outage(&e) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn sqlite_pool_options(max_connections: u32, acquire: Duration) -> AnyPoolOptions {
    returned_outside_transactions(AnyPoolOptions::new().max_connections(max_connections).acquire_timeout(acquire))
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(SQLITE_PRAGMAS).await?;
                Ok(())
            })
        })
}

/// A connection that comes back still inside a transaction (its COMMIT or ROLLBACK failed) is
/// closed, which rolls the transaction back: reused, every later "commit" on it would only
/// release a savepoint of a transaction that never commits.
fn returned_outside_transactions(options: AnyPoolOptions) -> AnyPoolOptions {
    options.after_release(|conn, _| {
        let stuck = sqlx::Connection::is_in_transaction(conn);
        if stuck {
            tracing::error!("a store connection came back inside a transaction: closed, rolling it back");
        }
        Box::pin(async move { Ok(!stuck) })
    })
}

/// The SQLite database holds password hashes and sealed secrets: its file is created readable by
/// its owner only, whatever the directory's mode or the umask, and an existing one (with its WAL
/// and shared-memory files, which SQLite creates with the database's own mode) is tightened.
fn restrict_sqlite_files(path: &str) -> std::io::Result<()> {
    let db = std::path::PathBuf::from(path);
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(&db)?;
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        if file.exists() {
            std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// The database file of a `sqlite:` URL; none for an in-memory database.
pub(crate) fn sqlite_file(url: &str) -> Option<&str> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// An UPDATE that must have touched a row: none means the row does not exist.
fn exactly_one(done: &sqlx::any::AnyQueryResult) -> StoreResult<()> {
    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Reads a 0/1 integer column as a bool.
fn flag(row: &sqlx::any::AnyRow, column: &str) -> StoreResult<bool> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}
