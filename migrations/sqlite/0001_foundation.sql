-- Foundation: key hierarchy, applications and authorizations, protected information, audit.
-- Times are unix seconds (audit: milliseconds); booleans are 0/1 integers on both dialects.

CREATE TABLE data_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kek_id      INTEGER NOT NULL,
    wrapped_key BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    sealed     BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE applications (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE authorizations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id   INTEGER NOT NULL REFERENCES applications (id),
    client_id        TEXT    NOT NULL UNIQUE,
    secret_hash      BLOB    NOT NULL,
    enabled          INTEGER NOT NULL DEFAULT 1,
    expires_at       INTEGER,
    resources        TEXT    NOT NULL,
    read_only        INTEGER NOT NULL DEFAULT 0,
    allowed_ips      TEXT    NOT NULL DEFAULT '*',
    allowed_referers TEXT    NOT NULL DEFAULT '',
    token_generation INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX authorizations_application ON authorizations (application_id);

CREATE TABLE authorization_links (
    authorization_id INTEGER NOT NULL REFERENCES authorizations (id),
    item_kind        TEXT    NOT NULL,
    item_id          INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (authorization_id, item_kind, item_id)
);

CREATE TABLE protected_info (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    uid           TEXT    NOT NULL UNIQUE,
    identifier    TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    info_type     TEXT    NOT NULL,
    service       TEXT    NOT NULL,
    url           TEXT    NOT NULL,
    users_allowed TEXT    NOT NULL,
    content       BLOB    NOT NULL,
    enabled       INTEGER NOT NULL DEFAULT 1,
    created_by    INTEGER NOT NULL REFERENCES authorizations (id),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX protected_info_created_by ON protected_info (created_by);

CREATE TABLE audit_log (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms            INTEGER NOT NULL,
    request_id       TEXT    NOT NULL,
    client_ip        TEXT    NOT NULL,
    application_id   INTEGER,
    authorization_id INTEGER,
    method           TEXT    NOT NULL,
    route            TEXT    NOT NULL,
    status           INTEGER NOT NULL,
    outcome          TEXT    NOT NULL,
    detail           TEXT    NOT NULL
);
