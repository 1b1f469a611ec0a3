-- MySafe: personal and team passwords, notes, API secrets and files, shared with users and groups.

CREATE TABLE mysafe_items (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    uid             TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL,
    owner_id        INTEGER NOT NULL REFERENCES users (id),
    name            TEXT    NOT NULL,
    url             TEXT    NOT NULL DEFAULT '',
    username        TEXT    NOT NULL DEFAULT '',
    identifier_code TEXT,
    method          TEXT    NOT NULL DEFAULT '',
    tags            TEXT    NOT NULL DEFAULT '',
    -- Sealed JSON of the item's secret fields (password, TOTP seed, note, client secret…).
    secret          BLOB    NOT NULL,
    content_type    TEXT    NOT NULL DEFAULT '',
    file_size       INTEGER NOT NULL DEFAULT 0,
    enabled         INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (owner_id, kind, identifier_code)
);
CREATE INDEX mysafe_items_owner ON mysafe_items (owner_id);

CREATE TABLE mysafe_shares (
    item_id        INTEGER NOT NULL REFERENCES mysafe_items (id),
    principal_kind TEXT    NOT NULL,
    principal_id   INTEGER NOT NULL,
    can_edit       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (item_id, principal_kind, principal_id)
);
CREATE INDEX mysafe_shares_principal ON mysafe_shares (principal_kind, principal_id);

-- File contents, sealed in chunks bound to the item and their position.
CREATE TABLE mysafe_file_chunks (
    item_id INTEGER NOT NULL REFERENCES mysafe_items (id),
    seq     INTEGER NOT NULL,
    data    BLOB    NOT NULL,
    PRIMARY KEY (item_id, seq)
);
