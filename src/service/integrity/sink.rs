//! The live audit sink: records shipped to a file or a syslog server once durable, in sequence
//! order, from a cursor kept in the store. Only the process holding the sink's lease ships, so
//! several processes send each record once; after an outage or a restart shipping resumes from
//! the last acknowledged record. Delivery is at least once (a record sent just before a crash is
//! sent again), and every record carries its `seq` for de-duplication downstream.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::domain::audit::{ChainedRecord, SinkTarget};
use crate::error::{ApiError, ApiResult};
use crate::service::Core;
use crate::service::integrity::export::json_line;

/// The cursor's and the lease's name.
const SINK: &str = "audit_sink";
const LEASE_SECONDS: i64 = 30;
const PAGE: i64 = 500;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// RFC 5424 PRI: facility 10 (security/authorization), severity 6 (informational).
const PRI: u8 = 10 * 8 + 6;

trait Wire: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Wire for T {}

/// Whether a syslog peer has closed the connection. TCP syslog has no acknowledgement, so a
/// batch written to a closed socket could vanish; looking first turns a peer that went away
/// while idle into a reconnect, not a loss. A read that would wait means the peer is there.
fn peer_closed(wire: &mut dyn Wire) -> bool {
    let mut byte = [0u8; 64];
    let mut buf = ReadBuf::new(&mut byte);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::Pin::new(wire).poll_read(&mut cx, &mut buf) {
        std::task::Poll::Pending => false,
        std::task::Poll::Ready(Ok(())) => buf.filled().is_empty(),
        std::task::Poll::Ready(Err(_)) => true,
    }
}

/// An open connection to the sink, kept across passes.
pub struct Connection {
    wire: Box<dyn Wire>,
    file: Option<tokio::fs::File>,
}

pub struct Shipper {
    target: SinkTarget,
    tls: Option<Arc<rustls::ClientConfig>>,
    hostname: String,
    connection: Option<Connection>,
}

impl Shipper {
    pub fn new(target: SinkTarget, ca_file: Option<&std::path::Path>) -> Result<Self, String> {
        let tls = match &target {
            SinkTarget::Syslog { tls: true, .. } => Some(Arc::new(client_config(ca_file)?)),
            _ => None,
        };
        let hostname = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty() && h.is_ascii() && !h.contains(' '))
            .unwrap_or_else(|| "-".into());
        Ok(Self { target, tls, hostname, connection: None })
    }

    /// Ships what is due; returns how many records were sent and acknowledged (0: nothing to
    /// send, or another process holds the sink). A failure drops the connection.
    pub async fn pass(&mut self, core: &Core) -> ApiResult<usize> {
        let now = core.now();
        if core.store.take_lease(SINK, &core.process_id, now, now + LEASE_SECONDS).await?.is_err() {
            return Ok(0);
        }
        let cursor = core.store.audit_sink_cursor(SINK).await?;
        let records = core.store.audit_page(cursor, PAGE).await?;
        let Some(last) = records.last().map(|r| r.seq) else { return Ok(0) };
        // A record can be read once committed, a moment before the writer's flush: flush here
        // too, so nothing leaves that a power loss could take back (free on PostgreSQL).
        core.store.sync().await?;
        if let Err(e) = self.send(&records).await {
            self.connection = None;
            return Err(ApiError::internal(&format!("audit sink: {e}")));
        }
        core.store.advance_audit_sink_cursor(SINK, last).await?;
        Ok(records.len())
    }

    async fn send(&mut self, records: &[ChainedRecord]) -> std::io::Result<()> {
        if let Some(connection) = self.connection.as_mut()
            && connection.file.is_none()
            && peer_closed(connection.wire.as_mut())
        {
            self.connection = None;
        }
        if self.connection.is_none() {
            self.connection = Some(self.connect().await?);
        }
        let mut out = Vec::with_capacity(records.len() * 512);
        for r in records {
            match &self.target {
                SinkTarget::File(_) => {
                    out.extend_from_slice(json_line(r).as_bytes());
                    out.push(b'\n');
                }
                SinkTarget::Syslog { .. } => {
                    let message = syslog_message(&self.hostname, r);
                    out.extend_from_slice(format!("{} {message}", message.len()).as_bytes());
                }
            }
        }
        let Some(connection) = self.connection.as_mut() else { return Ok(()) };
        connection.wire.write_all(&out).await?;
        connection.wire.flush().await?;
        if let Some(file) = &connection.file {
            file.sync_data().await?;
        }
        Ok(())
    }

    async fn connect(&self) -> std::io::Result<Connection> {
        match &self.target {
            SinkTarget::File(path) => {
                let file = tokio::fs::OpenOptions::new().create(true).append(true).open(path).await?;
                let handle = file.try_clone().await?;
                Ok(Connection { wire: Box::new(file), file: Some(handle) })
            }
            SinkTarget::Syslog { host, port, .. } => {
                let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect((host.as_str(), *port)))
                    .await
                    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connecting timed out"))??;
                let Some(tls) = &self.tls else { return Ok(Connection { wire: Box::new(tcp), file: None }) };
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a valid TLS name"))?;
                let stream = tokio_rustls::TlsConnector::from(Arc::clone(tls)).connect(name, tcp).await?;
                Ok(Connection { wire: Box::new(stream), file: None })
            }
        }
    }
}

/// An RFC 5424 message: the record's JSON as MSG, its sequence number as structured data.
fn syslog_message(hostname: &str, r: &ChainedRecord) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(r.record.at_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| "-".into());
    format!("<{PRI}>1 {at} {hostname} cofre - audit [cofre@32473 seq=\"{}\"] {}", r.seq, json_line(r))
}

fn client_config(ca_file: Option<&std::path::Path>) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| format!("audit_sink_ca_file {}: {e}", path.display()))?;
            let certs = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("audit_sink_ca_file {}: {e}", path.display()))?;
            roots.add_parsable_certificates(certs);
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    if roots.is_empty() {
        return Err("audit sink: no trusted root certificate".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Runs the sink for as long as the server does: at once while records are due, every second
/// when idle, and with growing pauses (up to 5 s) while the sink is down.
pub async fn run(core: &Core, mut shipper: Shipper) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match shipper.pass(core).await {
            Ok(0) => tokio::time::sleep(Duration::from_secs(1)).await,
            Ok(_) => backoff = Duration::from_millis(250),
            Err(e) => {
                tracing::warn!(error = %e, "audit sink unavailable; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}
