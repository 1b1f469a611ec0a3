//! Prometheus metrics: one registry per process (Prometheus scrapes each process), rendered at
//! `/metrics`. Labels are bounded sets (route family, method, status, scheme, job), never an
//! identifier or a secret.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub family: &'static str,
    pub method: &'static str,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub family: &'static str,
    pub method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SchemeLabels {
    pub scheme: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub job: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    pub pool: &'static str,
    pub state: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Histograms<RouteLabels>,
    auth_failures: Family<SchemeLabels, Counter>,
    throttled: Family<SchemeLabels, Counter>,
    audit_commit: Histogram,
    audit_records: Counter,
    pub audit_queue: Gauge,
    jobs: Family<JobLabels, Counter>,
    pub store_connections: Family<PoolLabels, Gauge>,
    pub live_sessions: Gauge,
}

fn latency() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("cofre");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "Requests answered, by route family, method and status", requests.clone());
        let durations: Histograms<RouteLabels> = Family::new_with_constructor(latency);
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer, audit record included",
            prometheus_client::registry::Unit::Seconds,
            durations.clone(),
        );
        let auth_failures = Family::<SchemeLabels, Counter>::default();
        registry.register("auth_failures", "Failed authentications, by scheme", auth_failures.clone());
        let throttled = Family::<SchemeLabels, Counter>::default();
        registry.register("auth_throttled", "Attempts refused by the lockout, by scheme", throttled.clone());
        let audit_commit = latency();
        registry.register_with_unit(
            "audit_commit_duration",
            "Time to make one audit batch durable",
            prometheus_client::registry::Unit::Seconds,
            audit_commit.clone(),
        );
        let audit_records = Counter::default();
        registry.register("audit_records", "Audit records made durable", audit_records.clone());
        let audit_queue = Gauge::default();
        registry.register("audit_queue_depth", "Audit records waiting for the writer", audit_queue.clone());
        let jobs = Family::<JobLabels, Counter>::default();
        registry.register("job_runs", "Background job passes, by job and outcome", jobs.clone());
        let store_connections = Family::<PoolLabels, Gauge>::default();
        registry.register("store_connections", "Store connections, by pool and state", store_connections.clone());
        let live_sessions = Gauge::default();
        registry.register("sessions_live", "Remote sessions this process carries", live_sessions.clone());
        Self {
            registry,
            requests,
            durations,
            auth_failures,
            throttled,
            audit_commit,
            audit_records,
            audit_queue,
            jobs,
            store_connections,
            live_sessions,
        }
    }

    pub fn request(&self, path: &str, method: &str, status: u16, took: Duration) {
        let (family, method) = (family_of(path), method_label(method));
        self.requests.get_or_create(&RequestLabels { family, method, status: status.to_string() }).inc();
        self.durations.get_or_create(&RouteLabels { family, method }).observe(took.as_secs_f64());
    }

    pub fn auth_failure(&self, scheme: &'static str) {
        self.auth_failures.get_or_create(&SchemeLabels { scheme }).inc();
    }

    pub fn throttled(&self, scheme: &'static str) {
        self.throttled.get_or_create(&SchemeLabels { scheme }).inc();
    }

    pub fn audit_batch(&self, records: usize, took: Duration) {
        self.audit_commit.observe(took.as_secs_f64());
        self.audit_records.inc_by(records as u64);
    }

    pub fn job(&self, job: &'static str, outcome: &'static str) {
        self.jobs.get_or_create(&JobLabels { job, outcome }).inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The family a path belongs to: the segment after `/iso` or `/api`, from a fixed list.
fn family_of(path: &str) -> &'static str {
    // The first segments `families()` in http.rs routes; every certificate path is one family.
    const FAMILIES: [&str; 15] = [
        "admin",
        "cicd",
        "coe",
        "coge",
        "dapp",
        "dash",
        "dsm",
        "get_auth_token",
        "mysafe",
        "oauth2",
        "pam",
        "remote",
        "sctm",
        "session",
        "user",
    ];
    let mut parts = path.trim_start_matches('/').split('/');
    match parts.next() {
        Some("iso" | "api") => {
            let next = parts.next().unwrap_or("").to_ascii_lowercase();
            if matches!(next.as_str(), "cert" | "certificate" | "certificado") {
                return "certificates";
            }
            FAMILIES.iter().find(|f| **f == next).copied().unwrap_or("other")
        }
        Some("scim") => "scim",
        Some("modulos") => "session",
        _ => "other",
    }
}

fn method_label(method: &str) -> &'static str {
    const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
    METHODS.iter().find(|m| **m == method).copied().unwrap_or("OTHER")
}
