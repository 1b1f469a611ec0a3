-- A revision bumped on every change: a write applies only to the revision it read, so no
-- concurrent change is silently overwritten.
ALTER TABLE mysafe_items ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
ALTER TABLE credentials ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
