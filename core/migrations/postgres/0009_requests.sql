-- Requests for a secret (DESIGN §7.2): the asker's X25519 public key Q and the verifier of the
-- reveal proof derived from its private key d (never d itself). The answer is a row of
-- `secrets` with the request's id, inserted in the same transaction that moves the request
-- from `open` to `answered`.
CREATE TABLE requests (
    id                  TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    account_id          TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    public_key          BYTEA NOT NULL,
    verifier            BYTEA NOT NULL,
    note                TEXT,
    label               TEXT,
    webhook_url         TEXT,
    allow_files         INTEGER NOT NULL DEFAULT 0,
    -- The answer's lifetime in seconds and its views.
    answer_expiration   BIGINT NOT NULL,
    answer_views        INTEGER NOT NULL,
    status              TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    answered_at         BIGINT,
    -- When the request left `open`; its row is purged a retention period later.
    ended_at            BIGINT
);
CREATE INDEX requests_by_account ON requests (account_id, id);
CREATE INDEX requests_open_by_expiry ON requests (expires_at) WHERE status = 'open';

-- An answer's request (its own id) and the responder's ephemeral public key E, which the asker
-- needs with d to derive the content key. NULL for every other secret.
ALTER TABLE secrets ADD COLUMN request_id TEXT;
ALTER TABLE secrets ADD COLUMN ephemeral_public_key BYTEA;
