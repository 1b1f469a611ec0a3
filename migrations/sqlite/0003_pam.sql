-- PAM Core: domains, devices, credentials (passwords and SSH keys), their version history,
-- related users, password policies and the rotation schedule.

CREATE TABLE domains (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE devices (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    identifier            TEXT    NOT NULL UNIQUE,
    hostname              TEXT    NOT NULL UNIQUE,
    ip                    TEXT    NOT NULL,
    model                 TEXT    NOT NULL,
    device_type           TEXT    NOT NULL,
    vendor                TEXT    NOT NULL,
    site                  TEXT    NOT NULL,
    device_domain         TEXT    NOT NULL DEFAULT '',
    connectivities        TEXT    NOT NULL DEFAULT '',
    session_remote_config TEXT    NOT NULL DEFAULT '',
    device_tags           TEXT    NOT NULL DEFAULT '',
    enabled               INTEGER NOT NULL DEFAULT 1,
    created_by            INTEGER NOT NULL REFERENCES authorizations (id),
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);

-- Passwords and SSH keys. Secret columns are sealed, bound to uid.
CREATE TABLE credentials (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    uid              TEXT    NOT NULL UNIQUE,
    identifier       TEXT    NOT NULL UNIQUE,
    kind             TEXT    NOT NULL,
    device_id        INTEGER NOT NULL REFERENCES devices (id),
    username         TEXT    NOT NULL,
    secret           BLOB,
    public_key       TEXT    NOT NULL DEFAULT '',
    key_passphrase   BLOB,
    key_name         TEXT    NOT NULL DEFAULT '',
    additional       TEXT    NOT NULL DEFAULT '',
    tags             TEXT    NOT NULL DEFAULT '',
    credential_type  TEXT    NOT NULL,
    domain           TEXT    NOT NULL DEFAULT '',
    parent_id        INTEGER REFERENCES credentials (id),
    settings         BLOB,
    automatic_change INTEGER NOT NULL DEFAULT 0,
    expiration_time  TEXT    NOT NULL DEFAULT '',
    version          INTEGER NOT NULL DEFAULT 1,
    enabled          INTEGER NOT NULL DEFAULT 1,
    custody_by       INTEGER,
    custody_since    INTEGER,
    viewed_at        INTEGER,
    changed_at       INTEGER NOT NULL,
    next_rotation_at INTEGER,
    rotation_lease   INTEGER NOT NULL DEFAULT 0,
    rotation_error   TEXT    NOT NULL DEFAULT '',
    created_by       INTEGER NOT NULL REFERENCES authorizations (id),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (device_id, username, kind)
);
CREATE INDEX credentials_rotation ON credentials (next_rotation_at);

-- Extra devices an SSH key is installed on.
CREATE TABLE key_devices (
    credential_id INTEGER NOT NULL REFERENCES credentials (id),
    device_id     INTEGER NOT NULL REFERENCES devices (id),
    PRIMARY KEY (credential_id, device_id)
);

-- Every earlier secret of a credential, sealed, with who changed it, when and why.
CREATE TABLE credential_versions (
    credential_id  INTEGER NOT NULL REFERENCES credentials (id),
    version        INTEGER NOT NULL,
    secret         BLOB,
    key_passphrase BLOB,
    public_key     TEXT    NOT NULL DEFAULT '',
    replaced_by    TEXT    NOT NULL,
    reason         TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (credential_id, version)
);

CREATE TABLE related_users (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    username   TEXT    NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1,
    created_by INTEGER NOT NULL REFERENCES authorizations (id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE password_policies (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    name                  TEXT    NOT NULL UNIQUE,
    length                INTEGER NOT NULL,
    lowercase             INTEGER NOT NULL,
    uppercase             INTEGER NOT NULL,
    digits                INTEGER NOT NULL,
    symbols               INTEGER NOT NULL,
    exclude               TEXT    NOT NULL DEFAULT '',
    key_algorithm         TEXT    NOT NULL DEFAULT 'ed25519',
    rotation_interval     INTEGER,
    rotate_after_custody  INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL
);

-- A policy applies to a credential, a device's credentials, or the credentials with a tag;
-- the most specific assignment wins.
CREATE TABLE policy_assignments (
    target_kind TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    policy_id   INTEGER NOT NULL REFERENCES password_policies (id),
    PRIMARY KEY (target_kind, target)
);
