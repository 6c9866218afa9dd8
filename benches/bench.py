#!/usr/bin/env python3
"""Helpers of benches/run (run by it with its own venv: matplotlib, cryptography).

    bench.py pool TARGET BASE_URL COUNT CLIENTS DIR   secrets to reveal at a fixed rate
    bench.py seed DB COUNT                             rows straight into a stopped server's SQLite file
    bench.py count DB                                  secrets stored
    bench.py fixed OUT.jsonl TAG DIR RATE SECS         percentiles of one fixed-rate run's h2load logs
    bench.py record OUT.jsonl TAG RESULT-LINE          a wrk RESULT line as a JSON record
    bench.py report DIR                                table with ratios and targets; the plots
"""
import base64, glob, hashlib, hmac, http.client, json, os, sqlite3, sys, threading, time, uuid
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

MARK = "BENCHSECRET"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def uuid7(ms):
    r = int.from_bytes(os.urandom(10), "big")
    v = (ms << 80) | (0x7 << 76) | ((r >> 62) & 0xFFF) << 64 | (0b10 << 62) | (r & ((1 << 62) - 1))
    return str(uuid.UUID(int=v))


# ------------------------------------------------------------------ pool
def pool(target, base, count, clients, out):
    """Creates COUNT one-view secrets and writes their reveal URIs, dealt round-robin into CLIENTS
    files (one h2load process each, so that no two clients reveal the same secret), and the body
    every reveal sends.

    Seecret: sealed here with one key for all (client-side, as the CLI does), so that every reveal
    carries the same proof, as the reveal page sends it; h2load sends one body for all requests.
    """
    u = urllib.parse.urlsplit(base)
    local = threading.local()
    token = os.environ.get("TOKEN", "")
    if target == "seecret":
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        key = os.urandom(32)
        proof = hmac.new(key, b"seecret/v1/reveal-proof", hashlib.sha256).digest()
        verifier = b64url(hashlib.sha256(proof).digest())
        body = json.dumps({"proof": b64url(proof)})
        aes = AESGCM(key)
    else:
        body = "reveal=1"  # snappass reads only the path; h2load cannot send an empty file

    def conn():
        if not hasattr(local, "c"):
            local.c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        return local.c

    def one(i):
        secret = f"{MARK}-pool-{i}-" + "x" * 40
        if target == "seecret":
            sid = uuid7(int(time.time() * 1000))
            nonce = os.urandom(12)
            env = b"\x01" + nonce + aes.encrypt(nonce, secret.encode(), sid.encode())
            req = json.dumps({"id": sid, "ciphertext": base64.b64encode(env).decode(),
                              "verifier": verifier, "expiration": "24h", "views": 1})
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
            path = "/v1/secrets"
        else:
            req = urllib.parse.urlencode({"password": secret, "ttl": "day"})
            headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
            path = "/"
        for attempt in range(3):
            try:
                c = conn()
                c.request("POST", path, req, headers)
                r = c.getresponse()
                data = r.read()
                break
            except (OSError, http.client.HTTPException):
                local.__dict__.pop("c", None)
                if attempt == 2:
                    raise
        if r.status >= 300:
            raise SystemExit(f"pool create: HTTP {r.status}: {data[:200]!r}")
        if target == "seecret":
            return f"{base}/v1/secrets/{sid}/reveal"
        link = json.loads(data)["link"]
        return base + "/" + urllib.parse.urlsplit(link).path.lstrip("/")

    with ThreadPoolExecutor(8) as ex:
        uris = list(ex.map(one, range(count)))
    os.makedirs(out, exist_ok=True)
    for k in range(clients):
        with open(os.path.join(out, f"uris-{k}"), "w") as f:
            f.write("\n".join(uris[k::clients]) + "\n")
    with open(os.path.join(out, "reveal-body"), "w") as f:
        f.write(body)


# ------------------------------------------------------------------ seed
def seed(db, count):
    """Inserts COUNT secrets of the bench account into the server's own SQLite database (the
    server is stopped): half active (expiring over the next 30 days), 40 % consumed (one view
    recorded), 10 % expired, created over the past 20 days, ids UUIDv7 of their creation time."""
    now = int(time.time() * 1000)
    con = sqlite3.connect(db)
    # one bulk transaction; a crash here only loses a benchmark's scratch database
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA cache_size = -262144")
    (account,) = con.execute("SELECT id FROM accounts ORDER BY created_at LIMIT 1").fetchone()
    t0 = time.time()
    with con:
        con.execute("CREATE TEMP TABLE seedbase AS SELECT COALESCE(MAX(rowid), 0) AS r FROM secrets")
        con.execute(
            """
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :count),
            r AS (
                SELECT i,
                       :now - 1728000000 + (i * 1728000000) / :count AS created,
                       lower(hex(randomblob(10))) AS h,
                       CASE WHEN i % 10 < 5 THEN 'active' WHEN i % 10 < 9 THEN 'consumed'
                            ELSE 'expired' END AS st
                FROM n)
            INSERT INTO secrets (id, account_id, kind, envelope, size, views_total, views_used,
                                 status, created_at, expires_at, last_viewed_at, ended_at, verifier)
            SELECT printf('%08x-%04x-7%s-%x%s-%s', created >> 16, created & 65535, substr(h, 1, 3),
                          8 + (i % 4), substr(h, 4, 3), substr(h, 8, 12)),
                   :account, 'text',
                   CASE WHEN st = 'active' THEN randomblob(93) END, 64, 1,
                   CASE WHEN st = 'consumed' THEN 1 ELSE 0 END, st, created,
                   CASE WHEN st = 'active' THEN :now + 60000 + (i * 2592000000) / :count
                        ELSE created + 86400000 END,
                   CASE WHEN st = 'consumed' THEN created + 60000 END,
                   CASE WHEN st = 'consumed' THEN created + 60000
                        WHEN st = 'expired' THEN created + 86400000 END,
                   randomblob(32)
            FROM r
            """,
            {"count": count, "now": now, "account": account},
        )
        con.execute(
            """INSERT INTO views (secret_id, at)
               SELECT id, last_viewed_at FROM secrets
               WHERE rowid > (SELECT r FROM seedbase) AND status = 'consumed'""")
    con.close()
    print(f"seeded {count} secrets in {time.time() - t0:.1f} s")


def count_rows(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    (n,) = con.execute("SELECT count(*) FROM secrets").fetchone()
    con.close()
    return n


# ------------------------------------------------------------------ results
def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def stats(rows, rate, secs):
    """rows: (start_us, status, duration_us)."""
    ok = sorted(d / 1000 for _, s, d in rows if 200 <= s < 300)
    bad = sum(1 for _, s, _ in rows if not 200 <= s < 300)
    span = (max(s + d for s, _, d in rows) - min(s for s, _, _ in rows)) / 1e6 if rows else 0
    return {"requests": len(rows), "errors": bad, "achieved_rps": len(rows) / span if span else 0,
            "p50_ms": pct(ok, 50), "p95_ms": pct(ok, 95), "p99_ms": pct(ok, 99),
            "p999_ms": pct(ok, 99.9), "max_ms": ok[-1] if ok else None,
            "curve": [[p, pct(ok, p)] for p in CURVE]}


CURVE = [0, 10, 25, 50, 75, 90, 95, 98, 99, 99.5, 99.9, 99.95, 99.99]


def read_logs(pattern):
    rows = []
    for path in glob.glob(pattern):
        with open(path) as f:
            for line in f:
                parts = line.split("\t")
                if len(parts) >= 3:
                    rows.append((int(parts[0]), int(parts[1]), int(parts[2])))
    return rows


# The first second opens every connection (and, before benches/run staggered its clients, was a
# burst of RATE/10 simultaneous requests). Both servers' figures leave it out (FIXED_WARMUP_S=0
# keeps it).
FIXED_WARMUP_US = int(float(os.environ.get("FIXED_WARMUP_S", "1")) * 1e6)


def after_warmup(*groups):
    t0 = min((s for g in groups for s, _, _ in g), default=0)
    return [[r for r in g if r[0] >= t0 + FIXED_WARMUP_US] for g in groups]


def arrivals(rows, period_us):
    """The busiest 5 ms of each client's period: its share of the requests sent (uniform
    arrivals: 5 ms / period; every client firing together: 100 %)."""
    if not rows:
        return None
    t0 = min(s for s, _, _ in rows)
    slots = max(period_us // 5000, 1)
    counts = [0] * slots
    for s, _, _ in rows:
        counts[((s - t0) % period_us) * slots // period_us] += 1
    return max(counts) / len(rows)


def fixed(out, tag, d, rate, secs, per_client_rps=10, floor=False):
    """Percentiles of a fixed-rate run from its h2load logs: creates and reveals, or (`floor`)
    the /healthz requests of the floor."""
    if floor:
        (rows,) = after_warmup(read_logs(os.path.join(d, "log-healthz*")))
        creates, reveals = rows, []
    else:
        creates, reveals = after_warmup(read_logs(os.path.join(d, "log-create*")),
                                        read_logs(os.path.join(d, "log-reveal*")))
    secs = max(secs - FIXED_WARMUP_US / 1e6, 1)
    period_us = int(1e6 / per_client_rps)
    rec = dict(json.loads(tag), workload="fixed_floor" if floor else "fixed", rate=rate, secs=secs,
               mixed=stats(creates + reveals, rate, secs),
               busiest_5ms_share=arrivals(creates + reveals, period_us),
               busiest_5ms_uniform=5000 / period_us)
    if not floor:
        rec.update(create=stats(creates, rate, secs), reveal=stats(reveals, rate, secs))
    with open(out, "a") as f:
        f.write(json.dumps(rec) + "\n")
    m = rec["mixed"]
    print(f"  {'/healthz floor' if floor else rec['target']}: {m['requests']} requests ({m['errors']} errors), "
          f"{m['achieved_rps']:.0f} req/s, "
          f"p50 {m['p50_ms']:.2f} p95 {m['p95_ms']:.2f} p99 {m['p99_ms']:.2f} p99.9 {m['p999_ms']:.2f} ms; "
          f"arrivals: the busiest 5 ms of each {period_us // 1000} ms held "
          f"{100 * (rec['busiest_5ms_share'] or 0):.1f} % of requests (uniform: {100 * rec['busiest_5ms_uniform']:.1f} %)")


def record(out, tag, line):
    rec = json.loads(tag)
    for kv in line.split()[1:]:
        k, _, v = kv.partition("=")
        rec[k] = float(v)
    with open(out, "a") as f:
        f.write(json.dumps(rec) + "\n")


# ------------------------------------------------------------------ report
def report(d):
    recs = [json.loads(l) for l in open(os.path.join(d, "results.jsonl"))]
    meta = json.load(open(os.path.join(d, "meta.json")))

    def get(target, workload, phase="empty"):
        for r in recs:
            if r["target"] == target and r["workload"] == workload and r.get("phase") == phase:
                return r
        return None

    def f(v, unit=""):
        if v is None:
            return "-"
        return f"{v:,.0f}{unit}" if v >= 100 else f"{v:.2f}{unit}"

    lines = []
    out = lines.append
    big = meta["stored"]
    out(f"Seecret vs snappass {meta['peer_version']} ({meta['peer_desc']}), loopback, {meta['host']}")
    out(f"saturating: {meta['conns']} connections, {meta['duration']} each (wrk); fixed rate: "
        f"{meta['rate']} req/s for {meta['fixed_secs']} s (h2load, creates and reveals half each)")
    out("")
    out(f"{'measure':44} {'Seecret':>10} {'snappass':>10} {'ratio':>7}  target")
    checks = []

    def row(name, ours, peer, target="", ok=None):
        ratio = ours / peer if ours is not None and peer else None
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        out(f"{name:44} {f(ours):>10} {f(peer):>10} {(f'{ratio:.2f}x' if ratio else '-'):>7}  {target} {verdict}".rstrip())
        if ok is not None:
            checks.append(ok)

    sc, pc = get("seecret", "create"), get("snappass", "create")
    sp, pp = get("seecret", "pair"), get("snappass", "pair")
    hz = get("seecret", "healthz")
    v = lambda r, k: r[k] if r else None
    c_ratio = v(sc, "creates_per_s") / v(pc, "creates_per_s") if sc and pc and pc["creates_per_s"] else 0
    p_ratio = v(sp, "pairs_per_s") / v(pp, "pairs_per_s") if sp and pp and pp["pairs_per_s"] else 0
    if sc or sp:
        row("creates/s", v(sc, "creates_per_s"), v(pc, "creates_per_s"), ">= 10x peer", c_ratio >= 10)
        row("  creates p99 ms (saturated)", v(sc, "p99_ms"), v(pc, "p99_ms"))
        row("create+reveal pairs/s", v(sp, "pairs_per_s"), v(pp, "pairs_per_s"), ">= 10x peer", p_ratio >= 10)
        row("  pairs p99 ms (saturated)", v(sp, "p99_ms"), v(pp, "p99_ms"))
    else:
        out("(no saturating runs: BENCH_SATURATE=0)")
    if hz:
        share = v(sc, "creates_per_s") / hz["rps"] if sc else 0
        out(f"{'/healthz req/s (ceiling)':44} {f(hz['rps']):>10}")
        out(f"{'creates as share of /healthz':44} {share * 100:>9.0f}%{'':>19}>= 40% {'PASS' if share >= 0.4 else 'FAIL'}")
        checks.append(share >= 0.4)
    sf, pf = get("seecret", "fixed"), get("snappass", "fixed")
    for p, name in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99"), ("p999_ms", "p99.9")):
        lim = {"p99_ms": 5, "p999_ms": 10}.get(p)
        ours = sf["mixed"][p] if sf else None
        row(f"fixed {meta['rate']}/s mixed, {name} ms", ours, pf["mixed"][p] if pf else None,
            f"< {lim} ms" if lim else "", (ours is not None and ours < lim) if lim else None)
    if sf:
        out(f"{'  achieved req/s, errors':44} {sf['mixed']['achieved_rps']:>10.0f} "
            f"{(pf['mixed']['achieved_rps'] if pf else 0):>10.0f}   errors {sf['mixed']['errors']} / "
            f"{pf['mixed']['errors'] if pf else '-'}")
        for kind in ("create", "reveal"):
            row(f"  {kind}s alone, p99 ms", sf[kind]["p99_ms"], pf[kind]["p99_ms"] if pf else None)
        fl = get("seecret", "fixed_floor")
        if fl:
            out(f"{'  the floor: /healthz at the same rate, p99':44} {fl['mixed']['p99_ms']:>10.2f}"
                f"{'':>19}p99.9 {fl['mixed']['p999_ms']:.2f}")
        share = lambda r: f"{100 * r['busiest_5ms_share']:.1f}%" if r and r.get("busiest_5ms_share") else "-"
        out(f"{'  arrivals in the busiest 5 ms of 100':44} {share(sf):>10} {share(pf):>10}   "
            f"uniform {100 * sf.get('busiest_5ms_uniform', 0.05):.1f}%")
    bc, bf = get("seecret", "create", "big"), get("seecret", "fixed", "big")
    out("")
    out(f"with {big:,} secrets stored (seeded: active, consumed, expired), sweeper and outbox worker running:")
    out(f"{'measure':44} {'stored':>10} {'empty':>10} {'slower':>7}  target")
    if bc and sc:
        r = sc["creates_per_s"] / bc["creates_per_s"] if bc["creates_per_s"] else float("inf")
        out(f"{'creates/s':44} {f(bc['creates_per_s']):>10} {f(sc['creates_per_s']):>10} {r:>6.2f}x  "
            f"empty/stored <= 1.5 {'PASS' if r <= 1.5 else 'FAIL'}")
        checks.append(r <= 1.5)
    bp = get("seecret", "pair", "big")
    if bp and sp:
        out(f"{'create+reveal pairs/s':44} {f(bp['pairs_per_s']):>10} {f(sp['pairs_per_s']):>10} "
            f"{sp['pairs_per_s'] / bp['pairs_per_s'] if bp['pairs_per_s'] else 0:>6.2f}x")
    if bf and sf:
        r = bf["mixed"]["p99_ms"] / sf["mixed"]["p99_ms"]
        out(f"{'fixed-rate mixed p99 ms':44} {bf['mixed']['p99_ms']:>10.2f} {sf['mixed']['p99_ms']:>10.2f} {r:>6.2f}x  "
            f"stored/empty <= 1.5 {'PASS' if r <= 1.5 else 'FAIL'}")
        checks.append(r <= 1.5)
        out(f"{'fixed-rate mixed p99.9 ms':44} {bf['mixed']['p999_ms']:>10.2f} {sf['mixed']['p999_ms']:>10.2f}")
    out("")
    rss = meta.get("rss", {})
    mb = lambda k: f"{rss[k] / 1024:.0f}" if rss.get(k) else "-"
    out(f"RSS MiB: Seecret idle {mb('seecret_idle')}, peak under {meta['conns']} connections {mb('seecret_load')}, "
        f"{big:,} stored idle {mb('seecret_big_idle')} / under load {mb('seecret_big_load')}")
    out(f"         snappass (gunicorn tree) idle {mb('snappass_idle')}, peak under load {mb('snappass_load')}; "
        f"its redis {mb('redis_load')} at peak")
    out(f"targets met: {sum(checks)} of {len(checks)}")
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(d, "summary.txt"), "w") as fh:
        fh.write(text + "\n")
    plots(d, recs, meta)


def plots(d, recs, meta):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=100)
    for r in recs:
        if r["workload"] not in ("fixed", "fixed_floor"):
            continue
        label = {"seecret": "Seecret", "snappass": "snappass"}[r["target"]]
        if r["workload"] == "fixed_floor":
            label = "Seecret /healthz (the floor)"
        elif r.get("phase") == "big":
            label += f", {meta['stored']:,} stored"
        curve = [(1 / (1 - p / 100), v) for p, v in r["mixed"]["curve"] if p >= 10 and v]
        ax.plot([x for x, _ in curve], [v for _, v in curve], marker="o", ms=3, label=label)
    ticks = [50, 90, 99, 99.9, 99.99]
    ax.set_xscale("log")
    ax.set_xticks([1 / (1 - p / 100) for p in ticks], [f"p{p:g}" for p in ticks])
    ax.set_xticks([], minor=True)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(matplotlib.ticker.FixedLocator([0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_ylabel("latency, ms")
    ax.set_title(f"{meta['rate']} req/s fixed rate, creates and reveals mixed")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(d, "latency.png"))

    fig, ax = plt.subplots(figsize=(6.4, 3.4), dpi=100)
    pts = sorted((r["stored_before"], r["creates_per_s"]) for r in recs
                 if r["target"] == "seecret" and r["workload"] == "create")
    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label="Seecret creates/s")
    pts = sorted((r["stored_before"], r["pairs_per_s"]) for r in recs
                 if r["target"] == "seecret" and r["workload"] == "pair")
    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="s", label="Seecret pairs/s")
    for workload, key, ls in (("create", "creates_per_s", "--"), ("pair", "pairs_per_s", ":")):
        peer = [r[key] for r in recs if r["target"] == "snappass" and r["workload"] == workload]
        if peer:
            ax.axhline(peer[0], color="gray", ls=ls, label=f"snappass {key[:-6]}/s (empty)")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:,.0f}"))
    ax.set_xlabel("secrets stored when the run starts")
    ax.set_ylabel("per second")
    ax.set_ylim(bottom=0)
    ax.set_title(f"Saturating throughput vs. secrets stored, {meta['conns']} connections")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(d, "throughput.png"))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "pool":
        pool(args[0], args[1], int(args[2]), int(args[3]), args[4])
    elif cmd == "seed":
        seed(args[0], int(args[1]))
    elif cmd == "count":
        print(count_rows(args[0]))
    elif cmd == "fixed":
        fixed(args[0], args[1], args[2], int(args[3]), int(args[4]), *map(int, args[5:6]))
    elif cmd == "floor":
        fixed(args[0], args[1], args[2], int(args[3]), int(args[4]), *map(int, args[5:6]), floor=True)
    elif cmd == "record":
        record(args[0], args[1], args[2])
    elif cmd == "report":
        report(args[0])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
