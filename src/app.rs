//! Building and running the server: bind (port 0 in tests), open the store, build the router,
//! serve until told to stop, then drain requests and flush the audit trail.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::ServiceExt;
use axum::http::Request;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use tower::Layer;
use tower::util::MapRequestLayer;

use crate::clock::Clock;
use crate::config::Config;
use crate::http::middleware::normalize_path;
use crate::service::audit::{AuditSink, Recovery};
use crate::service::{Core, StartError};
use crate::state::AppState;

const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// After the drain: how long ending carried sessions, the audit flush and closing the store may take.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

pub struct App {
    state: AppState,
    listener: std::net::TcpListener,
    /// The web proxy's own origin (remote sessions).
    proxy_listener: std::net::TcpListener,
    /// The SSH gateway, when `ssh_listen` is set.
    ssh: Option<(std::net::TcpListener, Arc<russh::server::Config>)>,
    tls: Option<RustlsConfig>,
    handle: Handle<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error("cannot listen on {addr}: {cause}")]
    Bind { addr: SocketAddr, cause: std::io::Error },
    #[error("server: {0}")]
    Serve(std::io::Error),
    #[error("SSH gateway: {0}")]
    Ssh(String),
}

impl App {
    pub async fn build(mut config: Config, clock: Arc<dyn Clock>) -> Result<Self, AppError> {
        let bind = |addr: SocketAddr| {
            let listener = std::net::TcpListener::bind(addr).map_err(|cause| AppError::Bind { addr, cause })?;
            let bound = listener.local_addr().map_err(|cause| AppError::Bind { addr, cause })?;
            Ok::<_, AppError>((listener, bound))
        };
        let (listener, bound) = bind(config.listen)?;
        let (proxy_listener, proxy_bound) = bind(config.proxy_listen)?;
        let ssh_listener = config.ssh_listen.map(bind).transpose()?;
        // Port 0 binds a port only known now: session URLs must name the real ones, and
        // `target_networks` must know every listener cofre has, to never connect to one.
        config.listen = bound;
        config.proxy_listen = proxy_bound;
        config.ssh_listen = ssh_listener.as_ref().map(|(_, bound)| *bound);
        if config.public_url.is_empty() {
            config.public_url = config.public_base();
        }
        if config.proxy_url.is_empty() {
            config.proxy_url = config.proxy_base();
        }
        // The core creates the data directory owner-only; the TLS files go inside it after.
        let core = Core::open(config, clock, crate::service::vault::Opening::FirstStart).await?;
        let tls = crate::tls::server_config(&core.config).await?;
        // Pending audit rows are recovered once older than any request can last.
        let recovery = Recovery {
            clock: core.clock.clone(),
            after: Duration::from_secs(core.config.request_timeout.saturating_mul(2)),
        };
        let audit = AuditSink::spawn_recovering(core.store.clone(), core.audit_chain_key(), recovery);
        // Sessions a dead process held, or never entered, are closed before any is served.
        if let Err(e) = crate::service::sessions::proxy::close_interrupted(&core, &audit).await {
            tracing::warn!(error = %e, "could not close interrupted sessions");
        }
        let state = AppState::new(core, audit);
        let ssh = match ssh_listener {
            Some((listener, _)) => {
                let config = crate::ssh::gateway::config(&state).await.map_err(|e| AppError::Ssh(e.to_string()))?;
                Some((listener, config))
            }
            None => None,
        };
        Ok(Self { state, listener, proxy_listener, ssh, tls, handle: Handle::new() })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Where the web proxy listens.
    pub fn proxy_addr(&self) -> SocketAddr {
        self.proxy_listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Where the SSH gateway listens, when it is on.
    pub fn ssh_addr(&self) -> Option<SocketAddr> {
        self.ssh.as_ref().and_then(|(listener, _)| listener.local_addr().ok())
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// A handle whose `graceful_shutdown` stops `run`.
    pub fn handle(&self) -> Handle<SocketAddr> {
        self.handle.clone()
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves until the handle is told to shut down, then flushes the audit trail.
    pub async fn run(self) -> Result<(), AppError> {
        let scheduler = spawn_rotation(self.state.clone());
        let renewals = spawn_renewals(self.state.clone());
        let certificate_renewals = spawn_certificate_renewals(self.state.clone());
        let purge = spawn_job("purge", self.state.clone(), |state| async move {
            crate::service::auth::purge::purge_expired(&state.core).await.map(drop)
        });
        let checkpoints = spawn_audit_checkpoints(self.state.clone());
        let sink = spawn_audit_sink(self.state.clone());
        // Data keys made by `cofre key new-data-key` (or another process): seal with the newest.
        let data_keys = spawn_job("data_keys", self.state.clone(), |state| async move {
            state.core.refresh_data_keys().await.map(drop)
        });
        let router = crate::http::router(self.state.clone());
        // Path normalisation must run before the router matches.
        let service = MapRequestLayer::new(normalize_path::<hyper::body::Incoming>).layer(router);
        let make_service =
            ServiceExt::<Request<hyper::body::Incoming>>::into_make_service_with_connect_info::<SocketAddr>(service);
        let ssh_stop = tokio_util::sync::CancellationToken::new();
        let gateway = match self.ssh {
            Some((listener, config)) => {
                listener.set_nonblocking(true).map_err(AppError::Serve)?;
                let listener = tokio::net::TcpListener::from_std(listener).map_err(AppError::Serve)?;
                Some(tokio::spawn(crate::ssh::gateway::serve(self.state.clone(), config, listener, ssh_stop.clone())))
            }
            None => None,
        };
        let proxy_state = crate::http::proxy::front::ProxyState::new(self.state.clone());
        let drops = crate::service::sessions::watch::spawn(self.state.clone());
        let proxy_service =
            crate::http::proxy::front::router(proxy_state).into_make_service_with_connect_info::<SocketAddr>();
        let (vault, proxy) = match self.tls {
            Some(tls) => {
                let mut server = axum_server::from_tcp_rustls(self.listener, tls.clone()).map_err(AppError::Serve)?;
                limit_header_wait(server.http_builder());
                let mut proxy_server =
                    axum_server::from_tcp_rustls(self.proxy_listener, tls).map_err(AppError::Serve)?;
                limit_header_wait(proxy_server.http_builder());
                tokio::join!(
                    server.handle(self.handle.clone()).serve(make_service),
                    proxy_server.handle(self.handle).serve(proxy_service)
                )
            }
            None => {
                let mut server = axum_server::from_tcp(self.listener).map_err(AppError::Serve)?;
                limit_header_wait(server.http_builder());
                let mut proxy_server = axum_server::from_tcp(self.proxy_listener).map_err(AppError::Serve)?;
                limit_header_wait(proxy_server.http_builder());
                tokio::join!(
                    server.handle(self.handle.clone()).serve(make_service),
                    proxy_server.handle(self.handle).serve(proxy_service)
                )
            }
        };
        let served = vault.and(proxy);
        ssh_stop.cancel();
        for task in scheduler.into_iter().chain(gateway).chain(sink).chain([
            checkpoints,
            renewals,
            certificate_renewals,
            purge,
            drops,
            data_keys,
        ]) {
            task.abort();
        }
        // A store that hangs must not hold the process: past the deadline it exits anyway, and
        // whatever was not flushed is the store's (records not durable were never acknowledged).
        let flushed = tokio::time::timeout(FLUSH_TIMEOUT, async {
            end_carried_sessions(&self.state).await;
            self.state.audit.shutdown().await;
            self.state.core.store.close().await;
        });
        if flushed.await.is_err() {
            tracing::error!(
                timeout = ?FLUSH_TIMEOUT,
                "shutdown: the store did not take the audit flush in time; exiting without it"
            );
        }
        served.map_err(AppError::Serve)
    }

    /// Serves until SIGTERM or Ctrl-C, draining in-flight requests for up to ten seconds, then
    /// flushing for up to five: a hung store cannot keep the process from exiting.
    pub async fn run_until_signal(self) -> Result<(), AppError> {
        let handle = self.handle();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: draining requests");
            handle.graceful_shutdown(Some(DRAIN_TIMEOUT));
        });
        self.run().await
    }
}

/// Cuts the terminals this process still carries and ends their sessions as interrupted.
async fn end_carried_sessions(state: &AppState) {
    use crate::domain::sessions::EndReason;
    use crate::service::sessions::live::Cut;
    for session_id in state.live.cut_terminals(Cut::ShuttingDown) {
        let ended =
            crate::service::sessions::proxy::end(&state.core, &state.audit, &session_id, EndReason::Interrupted);
        if let Err(e) = ended.await {
            tracing::warn!(error = %e, "could not end a session at shutdown");
        }
    }
}

/// With a rotation command configured, looks for due credentials every check interval. Claims
/// in the store keep several processes from rotating the same credential.
fn spawn_rotation(state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    let changer =
        Arc::new(crate::service::pam::rotation::CommandChanger::from_config(&state.core.config.rotation_command)?);
    Some(spawn_job("rotation", state, move |state| {
        let changer = changer.clone();
        async move { crate::service::pam::rotation::run_due(&state.core, &state.audit, changer.as_ref()).await.map(drop) }
    }))
}

/// Re-issues renewable DSM secrets when due, with the local issuer.
fn spawn_renewals(state: AppState) -> tokio::task::JoinHandle<()> {
    spawn_job("dsm_renewal", state, |state| async move {
        crate::service::dsm::renewal::renew_due(&state.core, &crate::service::dsm::renewal::LocalIssuer).await.map(drop)
    })
}

/// Renews certificates marked for automatic renewal once they are due.
fn spawn_certificate_renewals(state: AppState) -> tokio::task::JoinHandle<()> {
    spawn_job("certificate_renewal", state, |state| async move {
        crate::service::certificates::renewal::renew_due(&state.core, &state.audit).await.map(drop)
    })
}

/// With `audit_sink` set, ships the trail there as records become durable.
fn spawn_audit_sink(state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    use crate::service::integrity::sink;
    let target = crate::domain::audit::SinkTarget::parse(&state.core.config.audit_sink).ok()??;
    match sink::Shipper::new(target, state.core.config.audit_sink_ca_file.as_deref()) {
        Ok(shipper) => Some(tokio::spawn(async move { sink::run(&state.core, shipper).await })),
        Err(e) => {
            tracing::error!(error = %e, "audit sink not started");
            None
        }
    }
}

/// Writes the audit chain's head to the checkpoint file (`audit_checkpoint_file`, else one in
/// the data directory) every checkpoint interval when it moved, outside the database's reach.
fn spawn_audit_checkpoints(state: AppState) -> tokio::task::JoinHandle<()> {
    let path = state.core.config.audit_checkpoint_path();
    let every = Duration::from_secs(state.core.config.audit_checkpoint_interval);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        let mut written = None;
        loop {
            ticker.tick().await;
            let head = match state.core.store.audit_head().await {
                Ok(head) => head.seq,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the audit chain's head for a checkpoint");
                    continue;
                }
            };
            if written == Some(head) {
                continue;
            }
            match crate::service::integrity::chain::checkpoint(&state.core, &path).await {
                Ok(c) => written = Some(c.seq),
                Err(e) => tracing::warn!(error = %e, "audit checkpoint failed"),
            }
        }
    })
}

/// Runs `pass` every check interval, each in its own task: an error or even a panic in one pass
/// is logged and the next pass runs as usual, so one bad row never stops a job.
fn spawn_job<F, Fut>(name: &'static str, state: AppState, pass: F) -> tokio::task::JoinHandle<()>
where
    F: Fn(AppState) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = crate::error::ApiResult<()>> + Send + 'static,
{
    let every = Duration::from_secs(state.core.config.rotation_check_interval);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            let outcome = match tokio::spawn(pass(state.clone())).await {
                Ok(Ok(())) => "success",
                Ok(Err(e)) => {
                    tracing::warn!(job = name, error = %e, "background job pass failed");
                    "error"
                }
                Err(e) => {
                    tracing::error!(job = name, error = %e, "background job pass panicked");
                    "panic"
                }
            };
            crate::metrics::METRICS.job(name, outcome);
        }
    })
}

/// Idle connections that never finish their headers are closed (slowloris).
fn limit_header_wait(builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>) {
    builder.http1().timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(Duration::from_secs(10));
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
