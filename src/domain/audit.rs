//! The audit trail's record: one per request or background job.

/// One request's record. Holds no secret value: sensitive parameters arrive here already masked.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AuditRecord {
    pub at_ms: i64,
    pub request_id: String,
    pub client_ip: String,
    pub application_id: Option<i64>,
    pub authorization_id: Option<i64>,
    pub method: String,
    pub route: String,
    pub status: i64,
    pub outcome: String,
    /// A JSON object: parameter names, masked values, the reason for a refusal.
    pub detail: String,
}
