-- Authentication: users and groups, OAuth 1.0a and SigV4 credentials, API tokens,
-- replay protection and failure throttling shared by every process.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL DEFAULT '',
    email         TEXT    NOT NULL DEFAULT '',
    password_hash TEXT,
    enabled       INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE groups (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id   INTEGER NOT NULL REFERENCES groups (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

ALTER TABLE applications ADD COLUMN auth_methods TEXT NOT NULL DEFAULT 'oauth2';

-- The user an authorization acts as (MySafe keys, dynamic tokens); NULL for applications.
ALTER TABLE authorizations ADD COLUMN acting_user_id INTEGER REFERENCES users (id);
-- Token scope, e.g. "info:read,info:write"; NULL means the resources and read-only flag govern.
ALTER TABLE authorizations ADD COLUMN scopes TEXT;
ALTER TABLE authorizations ADD COLUMN oauth1_consumer_key TEXT;
ALTER TABLE authorizations ADD COLUMN oauth1_consumer_secret BLOB;
ALTER TABLE authorizations ADD COLUMN oauth1_token TEXT;
ALTER TABLE authorizations ADD COLUMN oauth1_token_secret BLOB;
ALTER TABLE authorizations ADD COLUMN oauth1_unsigned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE authorizations ADD COLUMN aws_access_key_id TEXT;
ALTER TABLE authorizations ADD COLUMN aws_secret_access_key BLOB;
CREATE UNIQUE INDEX authorizations_oauth1_consumer_key ON authorizations (oauth1_consumer_key);
CREATE UNIQUE INDEX authorizations_aws_access_key_id ON authorizations (aws_access_key_id);

-- Named API tokens (Securden style). Each has its own authorization, which carries its scope,
-- IP rules and expiry. Static tokens keep the hash of their one value; dynamic ones are
-- definitions whose short-lived values live in issued_tokens.
CREATE TABLE api_tokens (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    authorization_id INTEGER NOT NULL REFERENCES authorizations (id),
    name             TEXT    NOT NULL UNIQUE,
    description      TEXT    NOT NULL DEFAULT '',
    kind             TEXT    NOT NULL,
    token_hash       BLOB,
    user_id          INTEGER REFERENCES users (id),
    lifetime_minutes INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (token_hash);

CREATE TABLE issued_tokens (
    token_hash   BLOB    NOT NULL PRIMARY KEY,
    api_token_id INTEGER NOT NULL REFERENCES api_tokens (id),
    user_id      INTEGER NOT NULL REFERENCES users (id),
    expires_at   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);

-- Nonces and signatures already seen; a key is consumed once, until it expires.
CREATE TABLE replay_guard (
    key        TEXT    NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX replay_guard_expiry ON replay_guard (expires_at);

-- Failed authentications per client id, login and source IP.
CREATE TABLE auth_failures (
    key          TEXT    NOT NULL PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    locked_until INTEGER NOT NULL DEFAULT 0
);
