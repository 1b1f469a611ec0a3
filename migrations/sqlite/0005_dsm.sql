-- DevOps Secret Manager: applications that pipelines register, their secrets (sealed, versioned,
-- renewable), and the pods provisioned with them.

CREATE TABLE dsm_engines (
    name TEXT NOT NULL PRIMARY KEY
);
INSERT INTO dsm_engines (name) VALUES ('Generic'), ('Kubernetes'), ('GitLab'), ('GitHub'), ('Jenkins'), ('AWS'), ('Azure'), ('GCP');

CREATE TABLE dsm_applications (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id   INTEGER NOT NULL REFERENCES applications (id),
    name             TEXT    NOT NULL,
    system           TEXT    NOT NULL,
    environment      TEXT    NOT NULL,
    unique_key       TEXT    UNIQUE,
    description      TEXT    NOT NULL DEFAULT '',
    tags             TEXT    NOT NULL DEFAULT '',
    line_of_business TEXT    NOT NULL DEFAULT '',
    application_type TEXT    NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (name, system, environment)
);

ALTER TABLE authorizations ADD COLUMN dsm_application_id INTEGER REFERENCES dsm_applications (id);

CREATE TABLE dsm_secrets (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    uid                TEXT    NOT NULL UNIQUE,
    dsm_application_id INTEGER NOT NULL REFERENCES dsm_applications (id),
    identity           TEXT    NOT NULL,
    name               TEXT    NOT NULL,
    engine             TEXT    NOT NULL,
    description        TEXT    NOT NULL DEFAULT '',
    expiration_date    TEXT    NOT NULL DEFAULT '',
    version            INTEGER NOT NULL DEFAULT 1,
    data               BLOB    NOT NULL,
    renew_minutes      INTEGER,
    next_renewal_at    INTEGER,
    renewal_lease      INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (dsm_application_id, identity)
);
CREATE INDEX dsm_secrets_renewal ON dsm_secrets (next_renewal_at);

CREATE TABLE dsm_secret_versions (
    secret_id  INTEGER NOT NULL REFERENCES dsm_secrets (id),
    version    INTEGER NOT NULL,
    data       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (secret_id, version)
);

CREATE TABLE dsm_provisions (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    dsm_application_id INTEGER NOT NULL REFERENCES dsm_applications (id),
    pod_name           TEXT    NOT NULL,
    deploy             TEXT    NOT NULL,
    namespace          TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    UNIQUE (dsm_application_id, pod_name, deploy, namespace)
);
