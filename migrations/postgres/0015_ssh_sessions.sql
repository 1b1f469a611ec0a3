-- SSH sessions (issue 15). A session row names its device, whose SSH host key is pinned on first
-- use: a later connection that meets another key is refused until an operator sets or resets it.
-- The gateway's own host key is made once and sealed, so every process presents the same one.
ALTER TABLE remote_sessions ADD COLUMN device_id BIGINT;

CREATE TABLE device_host_keys (
    device_id   BIGINT  PRIMARY KEY REFERENCES devices (id),
    public_key  TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    pinned_at   BIGINT  NOT NULL
);

CREATE TABLE gateway_keys (
    name        TEXT    PRIMARY KEY,
    sealed      BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL
);
