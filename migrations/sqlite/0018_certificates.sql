-- Certificates (issue 17). Authorities are made by operators; requests and the certificates
-- signed from them belong to the application that made them. Every private key is sealed with
-- AAD naming its table and row; revocation passwords are stored as password hashes.
CREATE TABLE certificate_authorities (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    uid           TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL UNIQUE,
    parent_id     INTEGER REFERENCES certificate_authorities (id),
    key_type      TEXT    NOT NULL,
    certificate   TEXT    NOT NULL,
    private_key   BLOB    NOT NULL,
    not_before    INTEGER NOT NULL,
    not_after     INTEGER NOT NULL,
    crl_number    INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE certificate_requests (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id        INTEGER NOT NULL,
    code                  TEXT    NOT NULL,
    certificate_type      INTEGER NOT NULL,
    domain_type           TEXT    NOT NULL,
    organization          TEXT    NOT NULL,
    common_name           TEXT    NOT NULL,
    san                   TEXT    NOT NULL,
    tags                  TEXT    NOT NULL,
    encryption            TEXT    NOT NULL,
    encryption_key_size   INTEGER NOT NULL,
    certificate_algorithm TEXT    NOT NULL,
    validity              INTEGER NOT NULL,
    environments          TEXT    NOT NULL,
    systems               TEXT    NOT NULL,
    project               TEXT,
    external_ip           TEXT,
    hostname_ip           TEXT,
    justification         TEXT,
    responsible           TEXT,
    description           TEXT,
    key_password_hash     TEXT,
    revocation_hash       TEXT,
    csr                   TEXT    NOT NULL,
    private_key           BLOB    NOT NULL,
    status                INTEGER NOT NULL DEFAULT 1,
    revision              INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    UNIQUE (application_id, code)
);

CREATE TABLE certificates (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    uid               TEXT    NOT NULL UNIQUE,
    application_id    INTEGER NOT NULL,
    request_id        INTEGER UNIQUE REFERENCES certificate_requests (id),
    authority_id      INTEGER REFERENCES certificate_authorities (id),
    origin            TEXT    NOT NULL,
    fingerprint       TEXT    NOT NULL,
    self_signed       INTEGER NOT NULL DEFAULT 0,
    serial            TEXT    NOT NULL,
    common_name       TEXT    NOT NULL,
    organization      TEXT    NOT NULL DEFAULT '',
    -- The key's type and the signature digest, for renewal with a new key of the same kind.
    key_type          TEXT,
    digest            TEXT,
    san               TEXT    NOT NULL,
    certificate       TEXT    NOT NULL,
    chain             TEXT    NOT NULL,
    private_key       BLOB,
    not_before        INTEGER NOT NULL,
    not_after         INTEGER NOT NULL,
    auto_renew        INTEGER NOT NULL DEFAULT 0,
    renewal_lease     INTEGER NOT NULL DEFAULT 0,
    -- The certificate that replaced this one on renewal.
    renewed_by        INTEGER,
    renewal_days      INTEGER NOT NULL DEFAULT 30,
    sign_reason       TEXT,
    sign_justification TEXT,
    itsm_code         TEXT,
    key_password_hash TEXT,
    revocation_hash   TEXT,
    revoked_at        INTEGER,
    revocation_reason TEXT,
    created_at        INTEGER NOT NULL,
    UNIQUE (application_id, fingerprint)
);
CREATE INDEX certificates_by_application ON certificates (application_id, not_after);
CREATE INDEX certificates_revoked_by_authority ON certificates (authority_id, revoked_at);
CREATE INDEX certificates_due_for_renewal ON certificates (auto_renew, not_after);

-- Publishing profiles (§13.2 `cert/perfil/{type}`): where and with which credential a
-- certificate is installed. The credential is read as the authorization that made the profile.
CREATE TABLE certificate_publish_profiles (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id    INTEGER NOT NULL,
    authorization_id  INTEGER NOT NULL,
    kind              TEXT    NOT NULL,
    name              TEXT    NOT NULL,
    credential_id     INTEGER NOT NULL,
    devices           TEXT    NOT NULL,
    key_db_path       TEXT,
    key_db_password   BLOB,
    label             TEXT,
    revision          INTEGER NOT NULL DEFAULT 1,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (application_id, name)
);

-- One row per certificate, profile and device a publication tried, with its outcome.
CREATE TABLE certificate_publications (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    certificate_id    INTEGER NOT NULL REFERENCES certificates (id),
    profile_id        INTEGER NOT NULL REFERENCES certificate_publish_profiles (id),
    device_id         INTEGER NOT NULL,
    hostname          TEXT    NOT NULL,
    succeeded         INTEGER NOT NULL,
    error             TEXT,
    reason            TEXT,
    published_at      INTEGER NOT NULL
);
CREATE INDEX certificate_publications_by_certificate ON certificate_publications (certificate_id, id);
