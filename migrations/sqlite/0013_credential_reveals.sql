-- Credential reveals (issue 15, dashboards §13.1): one row per password handed out, so the
-- "higher risk" dashboard can score queries by time, origin and rate. Never the secret.
CREATE TABLE credential_reveals (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    at               INTEGER NOT NULL,
    application_id   INTEGER NOT NULL,
    authorization_id INTEGER NOT NULL,
    credential_id    INTEGER NOT NULL,
    credential_label TEXT    NOT NULL,
    hostname         TEXT    NOT NULL,
    client_ip        TEXT    NOT NULL
);
CREATE INDEX credential_reveals_at ON credential_reveals (at);
CREATE INDEX credential_reveals_application ON credential_reveals (application_id, at);
CREATE INDEX remote_sessions_started ON remote_sessions (started_at);
