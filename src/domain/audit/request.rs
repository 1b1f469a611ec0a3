//! The audited request a store write belongs to. The middleware runs each handler within its
//! request (`within`); the store's write path reads it (`current`) and commits, with each
//! change, a pending audit row naming the request, so that a change is audited even when its
//! request's own record never is (`service::audit` chains such rows). Outside a request — the
//! CLI, background jobs, the session proxy — there is none, and writes leave no pending row.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::AuditRecord;

tokio::task_local! {
    static CURRENT: Arc<AuditedRequest>;
}

/// What the audit trail knows of a request while it runs: fixed at arrival, and the caller and
/// details its handler notes as it goes (masked or non-secret values only).
pub struct AuditedRequest {
    pub request_id: Arc<str>,
    pub client_ip: String,
    pub method: String,
    pub route: String,
    /// When the request arrived, by the server's clock (unix milliseconds).
    pub at_ms: i64,
    facts: Mutex<Facts>,
    /// Whether a write of the request made a pending row (it may have rolled back since).
    wrote: AtomicBool,
}

#[derive(Default)]
struct Facts {
    application_id: Option<i64>,
    authorization_id: Option<i64>,
    detail: Map<String, Value>,
}

impl AuditedRequest {
    pub fn new(request_id: Arc<str>, client_ip: String, method: String, route: String, at_ms: i64) -> Self {
        Self { request_id, client_ip, method, route, at_ms, facts: Mutex::default(), wrote: AtomicBool::new(false) }
    }

    pub fn note_caller(&self, application_id: i64, authorization_id: i64) {
        if let Ok(mut f) = self.facts.lock() {
            f.application_id = Some(application_id);
            f.authorization_id = Some(authorization_id);
        }
    }

    /// Records a detail; callers pass masked or non-secret values only.
    pub fn note(&self, key: &str, value: impl Into<Value>) {
        if let Ok(mut f) = self.facts.lock() {
            f.detail.insert(key.to_owned(), value.into());
        }
    }

    /// The caller's application and authorization, and the details, as noted so far.
    pub fn facts(&self) -> (Option<i64>, Option<i64>, Map<String, Value>) {
        match self.facts.lock() {
            Ok(f) => (f.application_id, f.authorization_id, f.detail.clone()),
            Err(_) => (None, None, Map::new()),
        }
    }

    /// Whether the request made a pending row: only then has its record any to delete.
    pub fn wrote(&self) -> bool {
        self.wrote.load(Ordering::SeqCst)
    }

    /// The pending row of a write this request is making; `write` names it.
    pub fn pending_write(&self, write: String) -> PendingWrite {
        self.wrote.store(true, Ordering::SeqCst);
        let (application_id, authorization_id, detail) = self.facts();
        PendingWrite {
            key: uuid::Uuid::now_v7().to_string(),
            request_id: self.request_id.to_string(),
            at_ms: self.at_ms,
            client_ip: self.client_ip.clone(),
            application_id,
            authorization_id,
            method: self.method.clone(),
            route: self.route.clone(),
            write,
            detail: Value::Object(detail).to_string(),
        }
    }
}

/// The request the running task serves, if it serves one.
pub fn current() -> Option<Arc<AuditedRequest>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// Runs `work` (a request's handler) as serving `request`.
pub async fn within<F: Future>(request: Arc<AuditedRequest>, work: F) -> F::Output {
    CURRENT.scope(request, work).await
}

/// A committed write's pending audit row (migration 0023): its request as known when the write
/// committed, and which write it was (`INSERT protected_info`, a store method's name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingWrite {
    /// Unique per write, so a write that changed nothing can take its own row back.
    pub key: String,
    pub request_id: String,
    pub at_ms: i64,
    pub client_ip: String,
    pub application_id: Option<i64>,
    pub authorization_id: Option<i64>,
    pub method: String,
    pub route: String,
    pub write: String,
    /// The request's detail object when the write was made (masked, like a record's).
    pub detail: String,
}

impl AuditRecord {
    /// The record of one request's committed writes (its pending rows, in order) that no
    /// successful answer accounted for: its record failed, never came (the process died, the
    /// client hung up), or answered an error though a write had committed. The answer the client
    /// got is unknown, so the record says what is known — the writes committed — as status 200,
    /// outcome `committed`, with the request's masked details and the writes' names.
    pub fn recovered(writes: &[PendingWrite]) -> Option<Self> {
        let last = writes.last()?;
        let mut detail = match serde_json::from_str::<Value>(&last.detail) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        detail.insert("recovered".into(), "committed without a recorded successful answer".into());
        detail.insert("writes".into(), writes.iter().map(|w| Value::from(w.write.as_str())).collect());
        Some(Self {
            at_ms: writes.iter().map(|w| w.at_ms).min().unwrap_or(last.at_ms),
            request_id: last.request_id.clone(),
            client_ip: last.client_ip.clone(),
            application_id: last.application_id,
            authorization_id: last.authorization_id,
            method: last.method.clone(),
            route: last.route.clone(),
            status: 200,
            outcome: "committed".into(),
            detail: Value::Object(detail).to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, detail: &str) -> PendingWrite {
        let request = AuditedRequest::new("r-1".into(), "10.0.0.1".into(), "POST".into(), "/iso/pam/info".into(), 7);
        request.note_caller(3, 4);
        PendingWrite { detail: detail.into(), ..request.pending_write(name.into()) }
    }

    #[test]
    fn a_recovered_record_keeps_the_request_and_names_its_writes() {
        let writes =
            [write("INSERT protected_info", "{}"), write("INSERT authorization_items", r#"{"params":{"a":1}}"#)];
        let record = AuditRecord::recovered(&writes).expect("record");
        assert_eq!((record.request_id.as_str(), record.status, record.outcome.as_str()), ("r-1", 200, "committed"));
        assert_eq!((record.application_id, record.authorization_id, record.at_ms), (Some(3), Some(4), 7));
        let detail: Value = serde_json::from_str(&record.detail).expect("json");
        assert_eq!(detail["writes"], serde_json::json!(["INSERT protected_info", "INSERT authorization_items"]));
        assert_eq!(detail["params"]["a"], 1);
        assert!(AuditRecord::recovered(&[]).is_none());
    }

    #[test]
    fn only_a_task_within_a_request_sees_it() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let request = Arc::new(AuditedRequest::new("r-2".into(), "-".into(), "GET".into(), "/".into(), 0));
        let seen = runtime.block_on(within(request, async { current().map(|r| r.request_id.to_string()) }));
        assert_eq!(seen.as_deref(), Some("r-2"));
        assert!(runtime.block_on(async { current() }).is_none());
    }
}
