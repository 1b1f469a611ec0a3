//! The audit trail for a SIEM: one JSON object per record, with its sequence number (for
//! de-duplication downstream) and MAC.

use crate::domain::audit::ChainedRecord;

/// One record as a JSON line (no trailing newline).
pub fn json_line(r: &ChainedRecord) -> String {
    let mut value = serde_json::to_value(&r.record).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("seq".into(), r.seq.into());
        object.insert("mac".into(), hex::encode(&r.mac).into());
    }
    value.to_string()
}
