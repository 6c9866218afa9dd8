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

-- Statement-level triggers over the transition tables: a statement that touches many secrets
-- (the sweeper's expiry batch, the purge of ended metadata) changes each counter row once.
-- Row-level triggers would update the same counter row once per secret in one transaction, and
-- PostgreSQL keeps every such version until commit: a purge of 800 000 rows ran for minutes.
CREATE FUNCTION account_usage_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO account_usage (account_id, status, shard, n, views)
        SELECT account_id, status, pg_backend_pid() % 16, COUNT(*), SUM(views_used)
        FROM new_rows GROUP BY account_id, status
        ON CONFLICT (account_id, status, shard) DO UPDATE
        SET n = account_usage.n + excluded.n, views = account_usage.views + excluded.views;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO account_usage (account_id, status, shard, n, views)
        SELECT account_id, status, pg_backend_pid() % 16, -COUNT(*), -SUM(views_used)
        FROM old_rows
        -- An account's own deletion cascades to its secrets after its counters are gone.
        WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.id = old_rows.account_id)
        GROUP BY account_id, status
        ON CONFLICT (account_id, status, shard) DO UPDATE
        SET n = account_usage.n + excluded.n, views = account_usage.views + excluded.views;
    ELSE
        -- Updates that leave status and views alone (a passphrase attempt, an erasure) net to
        -- zero and write nothing.
        INSERT INTO account_usage (account_id, status, shard, n, views)
        SELECT account_id, status, pg_backend_pid() % 16, SUM(dn), SUM(dv)
        FROM (SELECT account_id, status, -1 AS dn, -views_used AS dv FROM old_rows
              UNION ALL
              SELECT account_id, status, 1, views_used FROM new_rows) AS d
        GROUP BY account_id, status
        HAVING SUM(dn) != 0 OR SUM(dv) != 0
        ON CONFLICT (account_id, status, shard) DO UPDATE
        SET n = account_usage.n + excluded.n, views = account_usage.views + excluded.views;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER account_usage_insert AFTER INSERT ON secrets
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION account_usage_apply();
CREATE TRIGGER account_usage_update AFTER UPDATE ON secrets
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION account_usage_apply();
CREATE TRIGGER account_usage_delete AFTER DELETE ON secrets
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION account_usage_apply();
