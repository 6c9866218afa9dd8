-- Seecret schema, PostgreSQL. The same tables and columns as the SQLite schema. Times are Unix
-- milliseconds (UTC) in BIGINT, so both backends share the conversion code.
--
-- Ids are compared with COLLATE "C": listings page with `id < cursor` and sort by id, and a UUIDv7
-- only sorts by creation time byte-wise, whatever the database's default collation is.

CREATE TABLE accounts (
    id           TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL UNIQUE,
    email        TEXT,
    plan         TEXT NOT NULL DEFAULT 'self-hosted',
    -- SHA-256 of the API token; the token itself is never stored.
    token_hash   BYTEA NOT NULL UNIQUE,
    webhook_url  TEXT,
    -- whsec_… signing secret (generated with the first webhook URL) and, during a rotation's
    -- overlap, the previous one.
    webhook_secret                 TEXT,
    webhook_secret_previous        TEXT,
    webhook_secret_previous_until  BIGINT,
    created_at   BIGINT NOT NULL
);

CREATE TABLE secrets (
    id               TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    account_id       TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    -- The sealed envelope (text) or NULL once erased. Never the key.
    envelope         BYTEA,
    -- Files: the blob's key in the blob store (NULL once the blob is deleted), the file's size,
    -- and its name only if the owner sent it in clear for their own listings.
    blob_key         TEXT,
    size             BIGINT,
    file_name        TEXT,
    label            TEXT,
    passphrase_hash  TEXT,
    allowed_countries TEXT NOT NULL DEFAULT '',
    webhook_url      TEXT,
    views_total      INTEGER NOT NULL,
    views_used       INTEGER NOT NULL DEFAULT 0,
    status           TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    last_viewed_at   BIGINT,
    -- When the secret left `active`; metadata is purged a retention period later.
    ended_at         BIGINT,
    -- Wrong passphrases in the current one-minute window.
    pp_fail_count    INTEGER NOT NULL DEFAULT 0,
    pp_fail_window   BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX secrets_by_account ON secrets (account_id, id);
CREATE INDEX secrets_active_by_expiry ON secrets (expires_at) WHERE status = 'active';
CREATE INDEX secrets_ended ON secrets (ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX secrets_blobs_left ON secrets (ended_at) WHERE blob_key IS NOT NULL AND status != 'active';

CREATE TABLE views (
    secret_id  TEXT COLLATE "C" NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
    at         BIGINT NOT NULL,
    country    TEXT,
    -- Insertion order, standing in for SQLite's rowid: views in the same millisecond keep the
    -- order they were recorded in.
    seq        BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX views_by_secret ON views (secret_id, at);

-- Transactional outbox: events are written in the same transaction as the change that caused
-- them and delivered by a worker (webhooks, bots).
CREATE TABLE outbox (
    id               TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    account_id       TEXT COLLATE "C" NOT NULL,
    secret_id        TEXT COLLATE "C",
    event_type       TEXT NOT NULL,
    -- The exact body sent on every attempt, and where.
    payload          TEXT NOT NULL,
    target_url       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    -- pending | delivered | failed
    state            TEXT NOT NULL DEFAULT 'pending',
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    -- A worker's claim: other workers skip the row until the lease ends.
    lease_until      BIGINT,
    lease_token      TEXT,
    last_attempt_at  BIGINT,
    last_status      INTEGER,
    last_error       TEXT,
    delivered_at     BIGINT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_by_secret ON outbox (secret_id);
