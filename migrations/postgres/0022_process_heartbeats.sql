-- One row per running cofre process, rewritten by each readiness check (/ready): a check passes
-- only when a commit goes through. Rows of processes gone for a day are deleted by the check.
CREATE TABLE process_heartbeats (
    process_id TEXT PRIMARY KEY,
    beat_at BIGINT NOT NULL
);
