-- Integrity (issue 18). The audit trail becomes a chain: each record carries its sequence
-- number and a MAC over its content and the previous record's MAC. `audit_chain` holds the
-- head; appending a batch takes its row first, so one chain runs through every process.
-- Records written before this migration keep seq NULL and stand before the chain.
ALTER TABLE audit_log ADD COLUMN seq BIGINT;
ALTER TABLE audit_log ADD COLUMN mac BYTEA;
CREATE UNIQUE INDEX audit_log_seq ON audit_log (seq);

CREATE TABLE audit_chain (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    mac   BYTEA   NOT NULL,
    at_ms BIGINT NOT NULL
);
INSERT INTO audit_chain (id, seq, mac, at_ms) VALUES (1, 0, ''::bytea, 0);

-- One holder at a time for store-wide operations (a key rotation, an audit sink's shipping).
CREATE TABLE maintenance_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at BIGINT NOT NULL
);

-- How far each live audit sink has been acknowledged.
CREATE TABLE audit_sink_cursors (
    name TEXT PRIMARY KEY,
    seq  BIGINT NOT NULL
);
