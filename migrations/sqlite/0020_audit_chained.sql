-- Every row of audit_log is in the chain (issue 31): `cofre audit verify` fails on any row
-- without a place in it, so the records written before the chain existed (0019 left them with
-- seq NULL, before the chain's first record) move to audit_log_prechain, which is kept but
-- not chained, tailed or exported.
CREATE TABLE audit_log_prechain (
    id               INTEGER PRIMARY KEY,
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
INSERT INTO audit_log_prechain
    (id, at_ms, request_id, client_ip, application_id, authorization_id, method, route, status, outcome, detail)
SELECT id, at_ms, request_id, client_ip, application_id, authorization_id, method, route, status, outcome, detail
FROM audit_log
WHERE seq IS NULL
  AND id < COALESCE((SELECT MIN(id) FROM audit_log WHERE seq IS NOT NULL), (SELECT MAX(id) + 1 FROM audit_log));
DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log_prechain);

-- New rows must be chained. A guard, not the proof: SQL access can drop these triggers, and
-- verify finds an unchained row regardless.
CREATE TRIGGER audit_log_chained_insert BEFORE INSERT ON audit_log
WHEN NEW.seq IS NULL OR NEW.mac IS NULL
BEGIN
    SELECT RAISE(ABORT, 'audit_log rows are chained: seq and mac are required');
END;
CREATE TRIGGER audit_log_chained_update BEFORE UPDATE OF seq, mac ON audit_log
WHEN NEW.seq IS NULL OR NEW.mac IS NULL
BEGIN
    SELECT RAISE(ABORT, 'audit_log rows are chained: seq and mac are required');
END;
