-- Bumped by every update that replaces the sealed content. A reveal checks the key against one
-- version and claims its view only if the row still holds that version, so an owner's update
-- between the two cannot burn a view for content the recipient's key does not open.
ALTER TABLE secrets ADD COLUMN content_version BIGINT NOT NULL DEFAULT 0;
