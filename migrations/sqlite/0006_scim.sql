-- SCIM 2.0: the attributes of users and groups beyond cofre's own columns, their external ids,
-- and a version per resource for ETags.

ALTER TABLE users ADD COLUMN external_id TEXT;
ALTER TABLE users ADD COLUMN scim TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE groups ADD COLUMN external_id TEXT;
ALTER TABLE groups ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN deleted_at INTEGER;
