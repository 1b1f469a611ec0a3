-- Sessions connect to the device's address (issue 32): its `ip`, or its hostname only when it
-- has none. In PAM a hostname is usually a label (`web01`) that resolves nowhere; it stays the
-- session's name (the `dispositivo` label, the TLS name, the `Host` header), and `address` is
-- where the proxy and the gateway connect. NULL on rows made before: they connect to `host`.
-- `failure` says why a session that ended as failed did (name_not_resolved, connection_refused,
-- timeout, tls, …): the session records show it, and the audit record of its end carries it.
ALTER TABLE session_tickets ADD COLUMN address TEXT;
ALTER TABLE remote_sessions ADD COLUMN address TEXT;
ALTER TABLE remote_sessions ADD COLUMN failure TEXT;
