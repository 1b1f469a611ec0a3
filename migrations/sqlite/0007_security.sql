-- Security fixes of the first review.

-- Attempts in flight are counted before their proof is checked, so parallel guesses cannot
-- all be verified before the first failure is recorded.
ALTER TABLE auth_failures ADD COLUMN pending BIGINT NOT NULL DEFAULT 0;

-- The application whose (bootstrap) authorization registered a DSM application: only it may
-- register that application again and so get credentials for its secrets. Rows registered
-- before this column existed have none and can be re-registered by an admin only.
ALTER TABLE dsm_applications ADD COLUMN registrar_application_id BIGINT REFERENCES applications (id);

-- A link lets an application read an item; changing it needs a link made for writing.
ALTER TABLE authorization_links ADD COLUMN can_write BIGINT NOT NULL DEFAULT 0;
