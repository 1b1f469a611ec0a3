-- SSH session recordings (issue 15): asciicast v2, written in chunks as the session runs, each
-- sealed and bound to its session and position so none can be moved to another place.
CREATE TABLE session_recordings (
    session    INTEGER NOT NULL REFERENCES remote_sessions (id),
    seq        INTEGER NOT NULL,
    chunk      BLOB    NOT NULL,
    written_at INTEGER NOT NULL,
    PRIMARY KEY (session, seq)
);
