#!/usr/bin/env python3
"""100 MB through the server on loopback: upload and download throughput (MB/s) and the growth of
the server's resident memory while it receives and serves the file.

    benches/files.py            (release build; starts its own server; needs curl)
"""
import json, os, re, shutil, subprocess, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
subprocess.run(["cargo", "build", "--release", "-q", "-p", "seecret-server", "--locked"], cwd=ROOT, check=True)
SIZE = 100 * 1000 * 1000

def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True); self.pid, self.peak, self.stop = pid, 0, False
    def run(self):
        while not self.stop:
            self.peak = max(self.peak, rss_kb(self.pid)); time.sleep(0.01)

work = tempfile.mkdtemp()
server = None
try:
    src = os.path.join(work, "file.bin")
    with open(src, "wb") as f:
        f.write(os.urandom(SIZE))
    env = dict(os.environ, SEECRET_LOG="warn", SEECRET_RATE_LIMIT_PER_MINUTE="0")
    server = subprocess.Popen([os.path.join(ROOT, "target/release/seecret"), "serve", "--bind", "127.0.0.1:18383",
                               "--data-dir", os.path.join(work, "data")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    token = None
    while token is None:
        line = server.stdout.readline()
        if re.fullmatch(r"[0-9a-f-]{36}\n", line):
            token = line.strip()
    time.sleep(0.3)
    base = "http://127.0.0.1:18383"
    for label, views in (("upload", 1),):
        idle = rss_kb(server.pid)
        s = Sampler(server.pid); s.start()
        t = time.monotonic()
        out = subprocess.run(["curl", "-sf", "-H", f"Authorization: Bearer {token}", "-F", "operation=create_seecret",
                              "-F", f"views={views}", "-F", f"file=@{src}", f"{base}/api.php"],
                             capture_output=True, text=True, check=True).stdout
        up = time.monotonic() - t
        s.stop = True; s.join()
        created = json.loads(out)
        print(f"upload   100 MB: {SIZE / up / 1e6:6.1f} MB/s ({up:.2f} s); server RSS {idle / 1024:.0f} MiB idle, "
              f"peak {s.peak / 1024:.0f} MiB (+{(s.peak - idle) / 1024:.0f} MiB)")
    key = created["url"].split("#")[1]
    idle = rss_kb(server.pid)
    s = Sampler(server.pid); s.start()
    t = time.monotonic()
    subprocess.run(["curl", "-sf", "-o", os.path.join(work, "down.bin"), "-H", "Content-Type: application/json",
                    "-d", json.dumps({"key": key}), f"{base}/v1/secrets/{created['id']}/reveal"], check=True)
    down = time.monotonic() - t
    s.stop = True; s.join()
    same = open(src, "rb").read() == open(os.path.join(work, "down.bin"), "rb").read()
    print(f"download 100 MB: {SIZE / down / 1e6:6.1f} MB/s ({down:.2f} s), server decrypting; identical: {same}; "
          f"server RSS {idle / 1024:.0f} MiB before, peak {s.peak / 1024:.0f} MiB (+{(s.peak - idle) / 1024:.0f} MiB)")
finally:
    if server:
        server.terminate(); server.wait()
    shutil.rmtree(work, ignore_errors=True)
