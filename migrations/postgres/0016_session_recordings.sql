-- SSH session recordings (issue 15): asciicast v2, written in chunks as the session runs, each
-- sealed and bound to its session and position so none can be moved to another place.
CREATE TABLE session_recordings (
    session    BIGINT  NOT NULL REFERENCES remote_sessions (id),
    seq        BIGINT  NOT NULL,
    chunk      BYTEA   NOT NULL,
    written_at BIGINT  NOT NULL,
    PRIMARY KEY (session, seq)
);
