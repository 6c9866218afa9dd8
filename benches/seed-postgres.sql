-- benches/run's seed on PostgreSQL (the same mix as bench.py's SQLite seed): :count secrets of
-- the first account, half active (expiring over the next 30 days), 40 % consumed (one view
-- recorded), 10 % expired, created over the past 20 days, ids UUIDv7 of their creation time.
-- psql -v count=N -v now=<unix ms> -f benches/seed-postgres.sql
BEGIN;
CREATE TEMP TABLE seeded ON COMMIT DROP AS
WITH r AS (
    SELECT i,
           :now::bigint - 1728000000 + (i::bigint * 1728000000) / :count AS created,
           md5(random()::text || i::text) AS h,
           CASE WHEN i % 10 < 5 THEN 'active' WHEN i % 10 < 9 THEN 'consumed'
                ELSE 'expired' END AS st
    FROM generate_series(0, :count - 1) AS i)
SELECT lpad(to_hex(created >> 16), 8, '0') || '-' || lpad(to_hex(created & 65535), 4, '0')
           || '-7' || substr(h, 1, 3) || '-' || to_hex(8 + i % 4) || substr(h, 4, 3)
           || '-' || substr(h, 8, 12) AS id,
       created, h, st, i
FROM r;
INSERT INTO secrets (id, account_id, kind, envelope, size, views_total, views_used, status,
                     created_at, expires_at, last_viewed_at, ended_at, verifier)
SELECT id, (SELECT id FROM accounts ORDER BY created_at LIMIT 1), 'text',
       CASE WHEN st = 'active' THEN decode(repeat(h, 6), 'hex') END, 64, 1,
       CASE WHEN st = 'consumed' THEN 1 ELSE 0 END, st, created,
       CASE WHEN st = 'active' THEN :now::bigint + 60000 + (i::bigint * 2592000000) / :count
            ELSE created + 86400000 END,
       CASE WHEN st = 'consumed' THEN created + 60000 END,
       CASE WHEN st = 'consumed' THEN created + 60000
            WHEN st = 'expired' THEN created + 86400000 END,
       decode(h || h, 'hex')
FROM seeded;
INSERT INTO views (secret_id, at) SELECT id, created + 60000 FROM seeded WHERE st = 'consumed';
COMMIT;
ANALYZE secrets;
ANALYZE views;
