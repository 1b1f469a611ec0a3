-- A request's change commits, in its own transaction, a pending audit row (issue 42): the
-- request and the write, as known when it committed (the detail masked like a record's). The
-- audit batch that chains the request's successful record deletes the row in the same
-- transaction; recovery chains any row left older than two request timeouts (the record
-- failed, never came, or answered an error) as a record of its own, deleting the row in that
-- transaction too. So a change is never stored without its audit record, or the means to make
-- one. `key` is unique per write, for a write that changed nothing to take its row back. The
-- primary key leads with the request id, which the batch deletes by: one b-tree serves both.
CREATE TABLE pending_audit (
    request_id       TEXT    NOT NULL,
    key              TEXT    NOT NULL,
    at_ms            INTEGER NOT NULL,
    client_ip        TEXT    NOT NULL,
    application_id   INTEGER,
    authorization_id INTEGER,
    method           TEXT    NOT NULL,
    route            TEXT    NOT NULL,
    write            TEXT    NOT NULL,
    detail           TEXT    NOT NULL,
    PRIMARY KEY (request_id, key)
) WITHOUT ROWID;
