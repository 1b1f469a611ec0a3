//! Following the primary among the hosts of a multi-host PostgreSQL URL, as libpq's
//! `target_session_attrs` does: the pool opens its connections on the first host, in the URL's
//! order, that suits (for `read-write`, a server that takes writes), and checks each new connection
//! again. A watch task asks the current host every half second on a connection of its own; when
//! that host is gone or no longer suits (a standby, a demoted primary), it looks for the first
//! host that does and moves the pool there, and connections opened before the move are closed
//! rather than reused. Requests never wait for the watch: until a host suits, they fail as
//! outages (503 with Retry-After) within the pool's acquire timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Connection};

use super::StoreError;
use super::hosts::{PostgresHosts, SessionAttrs};

/// How often the watch asks the current host whether it still suits.
const CHECK_INTERVAL: Duration = Duration::from_millis(500);

/// How long connecting to a host and asking it may take before it counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A server that takes writes: a primary, not in recovery, not read-only.
const WRITABLE: &str = "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'";

struct Host {
    name: String,
    options: AnyConnectOptions,
}

/// The hosts, and when the pool last moved between them: shared by the watch and the pool's hooks.
struct Hosts {
    hosts: Vec<Host>,
    attrs: SessionAttrs,
    started: Instant,
    /// When the pool last moved to another host, in milliseconds since `started` (0: never).
    moved_at_ms: AtomicU64,
}

/// The task following the primary; it ends when the pool closes, or when the last clone of the
/// store holding this is dropped.
pub(super) struct Watch(tokio::task::JoinHandle<()>);

impl Drop for Watch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A pool on the first host that suits, and the watch that follows the primary from then on.
/// While no host suits (the cluster is starting, or electing a primary) this retries for `wait`.
pub(super) async fn connect(
    parsed: PostgresHosts,
    pool_options: AnyPoolOptions,
    wait: Duration,
) -> Result<(AnyPool, Watch), StoreError> {
    let hosts = Arc::new(Hosts::new(parsed)?);
    let started = Instant::now();
    let (current, probe) = loop {
        match hosts.first_suitable().await {
            Ok(found) => break found,
            Err(_) if started.elapsed() < wait => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(why) => {
                let attrs = hosts.attrs.name();
                let message = format!("no host of the database URL suits target_session_attrs={attrs}: {why}");
                return Err(StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(message))));
            }
        }
    };
    let pool = with_hooks(pool_options, &hosts).connect_lazy_with(hosts.hosts[current].options.clone());
    let watch = Watch(tokio::spawn(follow_primary(pool.clone(), hosts, current, probe)));
    Ok((pool, watch))
}

/// The pool's side of following: a new connection must suit (libpq checks each one; a refused
/// one is retried until the acquire timeout, an outage), and a connection opened before the last
/// move is closed instead of handed out.
fn with_hooks(options: AnyPoolOptions, hosts: &Arc<Hosts>) -> AnyPoolOptions {
    let acquiring = hosts.clone();
    let options = options.before_acquire(move |_, meta| {
        let reusable = !acquiring.opened_before_move(meta.age);
        Box::pin(async move { Ok(reusable) })
    });
    if hosts.attrs == SessionAttrs::Any {
        return options;
    }
    let connecting = hosts.clone();
    options.after_connect(move |conn, _| {
        let hosts = connecting.clone();
        Box::pin(async move {
            if hosts.suits(conn).await? {
                Ok(())
            } else {
                Err(sqlx::Error::Io(std::io::Error::other("the server is read-only (a standby): not the primary")))
            }
        })
    })
}

/// Every `CHECK_INTERVAL`: does the current host still suit? If not, move the pool to the first
/// host that does, as soon as one does.
async fn follow_primary(pool: AnyPool, hosts: Arc<Hosts>, mut current: usize, probe: AnyConnection) {
    let mut probe = Some(probe);
    let mut lost_at = None;
    loop {
        tokio::time::sleep(CHECK_INTERVAL).await;
        if pool.is_closed() {
            return;
        }
        if let Some(conn) = probe.as_mut() {
            if matches!(tokio::time::timeout(PROBE_TIMEOUT, hosts.suits(conn)).await, Ok(Ok(true))) {
                continue;
            }
            tracing::warn!(
                host = %hosts.hosts[current].name,
                target_session_attrs = hosts.attrs.name(),
                "the database host no longer suits (down, or not the primary): looking for one that does"
            );
            probe = None;
            lost_at = Some(Instant::now());
        }
        let Ok((found, conn)) = hosts.first_suitable().await else {
            continue;
        };
        let searched_ms = lost_at.map_or(0, |t: Instant| t.elapsed().as_millis());
        if found == current {
            tracing::warn!(host = %hosts.hosts[found].name, searched_ms, "the database host suits again");
        } else {
            // New connections go to the new host first, then older ones count as stale: a
            // connection opened in between is closed once more than needed, never kept on the
            // old host.
            pool.set_connect_options(hosts.hosts[found].options.clone());
            hosts.mark_moved();
            tracing::warn!(
                from = %hosts.hosts[current].name,
                to = %hosts.hosts[found].name,
                searched_ms,
                "the database pool moved to the host that suits"
            );
        }
        current = found;
        probe = Some(conn);
        lost_at = None;
    }
}

impl Hosts {
    fn new(parsed: PostgresHosts) -> Result<Self, StoreError> {
        let hosts = parsed
            .hosts
            .into_iter()
            .map(|host| Ok(Host { options: host.url.parse::<AnyConnectOptions>()?, name: host.name }))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::Other)?;
        Ok(Self { hosts, attrs: parsed.attrs, started: Instant::now(), moved_at_ms: AtomicU64::new(0) })
    }

    /// Whether the server behind `conn` suits: for `read-write` it takes writes; for `any` it answers.
    async fn suits(&self, conn: &mut AnyConnection) -> Result<bool, sqlx::Error> {
        match self.attrs {
            SessionAttrs::Any => conn.ping().await.map(|()| true),
            SessionAttrs::ReadWrite => sqlx::query_scalar(WRITABLE).fetch_one(conn).await,
        }
    }

    /// A connection to host `index` if it suits; else why not, naming the host.
    async fn probe(&self, index: usize) -> Result<AnyConnection, String> {
        let host = &self.hosts[index];
        let attempt = async {
            let mut conn = host.options.connect().await.map_err(|e| e.to_string())?;
            match self.suits(&mut conn).await {
                Ok(true) => Ok(conn),
                Ok(false) => Err("read-only (a standby)".to_owned()),
                Err(e) => Err(e.to_string()),
            }
        };
        let answer = tokio::time::timeout(PROBE_TIMEOUT, attempt).await;
        answer
            .unwrap_or_else(|_| Err(format!("no answer within {PROBE_TIMEOUT:?}")))
            .map_err(|why| format!("{}: {why}", host.name))
    }

    /// The first host, in the URL's order, that suits, with a connection to it; else why none does.
    async fn first_suitable(&self) -> Result<(usize, AnyConnection), String> {
        let mut refusals = Vec::new();
        for index in 0..self.hosts.len() {
            match self.probe(index).await {
                Ok(conn) => return Ok((index, conn)),
                Err(why) => refusals.push(why),
            }
        }
        Err(refusals.join("; "))
    }

    fn mark_moved(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.moved_at_ms.store(now.max(1), Ordering::Release);
    }

    /// Whether a connection `age` old was opened before the pool last moved.
    fn opened_before_move(&self, age: Duration) -> bool {
        let moved = Duration::from_millis(self.moved_at_ms.load(Ordering::Acquire));
        self.started.elapsed().saturating_sub(age) < moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_opened_before_a_move_are_not_reused() {
        let hosts = Hosts::new(PostgresHosts { hosts: vec![], attrs: SessionAttrs::ReadWrite }).expect("hosts");
        std::thread::sleep(Duration::from_millis(20));
        let opened_at_start = hosts.started.elapsed();
        assert!(!hosts.opened_before_move(opened_at_start), "no move yet");
        hosts.mark_moved();
        std::thread::sleep(Duration::from_millis(20));
        assert!(hosts.opened_before_move(hosts.started.elapsed()), "opened at start, before the move");
        assert!(!hosts.opened_before_move(Duration::from_millis(10)), "opened after the move");
        assert!(!hosts.opened_before_move(Duration::ZERO), "opened now");
    }
}
