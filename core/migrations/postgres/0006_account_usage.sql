-- An account's usage (secrets by status, views used), kept by triggers in the statement that
-- changes a secret, so that reading it is a few rows instead of a scan of the account's secrets.
-- The figures are exactly those of the secrets that exist: a purge of ended metadata lowers them
-- as it did. Every create of an account would otherwise update one counter row and hold its lock
-- until commit, serialising the account's creates across connections and instances; so each
-- connection writes its own shard (its backend pid modulo 16) and readers sum the shards (a
-- shard's own figure may go below zero; the sum is exact).
CREATE TABLE account_usage (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    status     TEXT NOT NULL,
    shard      INTEGER NOT NULL DEFAULT 0,
    n          BIGINT NOT NULL DEFAULT 0,
    views      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, status, shard)
);

INSERT INTO account_usage (account_id, status, n, views)
SELECT account_id, status, COUNT(*), COALESCE(SUM(views_used), 0) FROM secrets
GROUP BY account_id, status;

CREATE FUNCTION account_usage_add(account TEXT, st TEXT, dn BIGINT, dv BIGINT) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO account_usage (account_id, status, shard, n, views)
    VALUES (account, st, pg_backend_pid() % 16, dn, dv)
    ON CONFLICT (account_id, status, shard)
    DO UPDATE SET n = account_usage.n + excluded.n, views = account_usage.views + excluded.views
$$;

CREATE FUNCTION account_usage_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM account_usage_add(OLD.account_id, OLD.status, -1, -OLD.views_used);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM account_usage_add(NEW.account_id, NEW.status, 1, NEW.views_used);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER account_usage_insert AFTER INSERT ON secrets
FOR EACH ROW EXECUTE FUNCTION account_usage_track();
CREATE TRIGGER account_usage_update AFTER UPDATE OF status, views_used ON secrets
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.views_used IS DISTINCT FROM NEW.views_used)
EXECUTE FUNCTION account_usage_track();
CREATE TRIGGER account_usage_delete AFTER DELETE ON secrets
FOR EACH ROW EXECUTE FUNCTION account_usage_track();
