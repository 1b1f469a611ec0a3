-- The rest of the rows an API changes get a revision bumped on every change, like credentials
-- and MySafe items (0009): a write applies only to the revision it read. Users and groups keep
-- their SCIM version for this; DSM secrets their version.
ALTER TABLE devices ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
ALTER TABLE dsm_applications ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
ALTER TABLE applications ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
ALTER TABLE authorizations ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
