-- The purge job deletes expired authentication rows; these indexes keep its deletes cheap.
CREATE INDEX issued_tokens_expiry ON issued_tokens (expires_at);
CREATE INDEX auth_failures_window ON auth_failures (window_start);
