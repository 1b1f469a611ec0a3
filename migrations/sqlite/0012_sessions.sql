-- Remote sessions (issue 14). A ticket is a single-use URL good for seconds; redeeming it opens a
-- session row, handed to the proxy origin with a one-time entry code and then held there by a
-- cookie. Tokens, codes and cookies are stored only as SHA-256 of their random values.
CREATE TABLE session_tickets (
    token_hash       BLOB    PRIMARY KEY,
    authorization_id INTEGER NOT NULL REFERENCES authorizations (id),
    application_id   INTEGER NOT NULL,
    user_id          INTEGER NOT NULL REFERENCES users (id),
    credential_id    INTEGER NOT NULL REFERENCES credentials (id),
    device_id        INTEGER NOT NULL REFERENCES devices (id),
    protocol         TEXT    NOT NULL,
    host             TEXT    NOT NULL,
    port             INTEGER NOT NULL,
    remote_addr      TEXT,
    screensize       TEXT    NOT NULL,
    expires_at       INTEGER NOT NULL,
    consumed_at      INTEGER,
    created_at       INTEGER NOT NULL
);
CREATE INDEX session_tickets_expiry ON session_tickets (expires_at);

-- owner is the process holding the session; owner_seen_at its last heartbeat, which tells a
-- live holder from a dead one. last_seen_at is the user's last request (idle timeout).
CREATE TABLE remote_sessions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id       TEXT    NOT NULL UNIQUE,
    ticket_hash      BLOB    NOT NULL REFERENCES session_tickets (token_hash),
    authorization_id INTEGER NOT NULL,
    application_id   INTEGER NOT NULL,
    user_id          INTEGER NOT NULL,
    username         TEXT    NOT NULL,
    origin_ip        TEXT    NOT NULL,
    credential_id    INTEGER NOT NULL,
    credential_label TEXT    NOT NULL,
    device_label     TEXT    NOT NULL,
    host             TEXT    NOT NULL,
    port             INTEGER NOT NULL,
    protocol         TEXT    NOT NULL,
    screensize       TEXT    NOT NULL,
    entry_code_hash  BLOB,
    entry_expires_at INTEGER NOT NULL,
    cookie_hash      BLOB    UNIQUE,
    owner            TEXT,
    owner_seen_at    INTEGER,
    started_at       INTEGER NOT NULL,
    last_seen_at     INTEGER NOT NULL,
    ended_at         INTEGER,
    end_reason       TEXT,
    drop_requested   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX remote_sessions_entry ON remote_sessions (entry_code_hash);
CREATE INDEX remote_sessions_open ON remote_sessions (ended_at, owner);
CREATE INDEX remote_sessions_application ON remote_sessions (application_id);

-- One row per proxied request: method, path, status and byte counts, sealed; never bodies.
CREATE TABLE session_requests (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    uid        TEXT    NOT NULL,
    session    INTEGER NOT NULL REFERENCES remote_sessions (id),
    at_ms      INTEGER NOT NULL,
    record     BLOB    NOT NULL
);
CREATE INDEX session_requests_session ON session_requests (session, id);
