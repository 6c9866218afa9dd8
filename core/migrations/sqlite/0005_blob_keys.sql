-- Blob keys are random per upload; the sweeper asks which stored blobs a row still names, so
-- that blobs no row names (orphans of a crash between upload and insert) can be removed.
CREATE INDEX secrets_by_blob_key ON secrets (blob_key) WHERE blob_key IS NOT NULL;
