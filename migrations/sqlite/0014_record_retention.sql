-- Records kept for a retention period (record_retention_days) are purged by time.
CREATE INDEX session_requests_at ON session_requests (at_ms);
