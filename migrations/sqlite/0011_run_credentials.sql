-- DSM re-registration (dsmcli registers on every run) finds the application's authorization
-- and gives the run a client id and secret of its own that expire: the authorization stays
-- one, and expired run credentials are purged, so a busy pipeline leaves no pile of live
-- credentials behind.
CREATE TABLE run_credentials (
    client_id        TEXT    PRIMARY KEY,
    authorization_id BIGINT  NOT NULL REFERENCES authorizations (id),
    secret_hash      BLOB NOT NULL,
    expires_at       BIGINT  NOT NULL,
    created_at       BIGINT  NOT NULL
);
CREATE INDEX run_credentials_expiry ON run_credentials (expires_at);
CREATE INDEX run_credentials_authorization ON run_credentials (authorization_id);
