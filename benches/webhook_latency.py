#!/usr/bin/env python3
"""Webhook delivery latency on loopback: reveal → signed POST received, p50/p99.

    benches/webhook_latency.py [N]        (release build; starts its own server and receiver)
"""
import http.server, json, os, re, shutil, subprocess, sys, tempfile, threading, time, urllib.request

N = int(sys.argv[1]) if len(sys.argv) > 1 else 300
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
subprocess.run(["cargo", "build", "--release", "-q", "-p", "seecret-server", "--locked"], cwd=ROOT, check=True)

arrived = {}
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body["type"] == "seecret.viewed":
            arrived[body["secret_id"]] = time.monotonic()
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass

hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=hook.serve_forever, daemon=True).start()

data = tempfile.mkdtemp()
env = dict(os.environ, SEECRET_WEBHOOK_ALLOW_PRIVATE="127.0.0.1/32", SEECRET_LOG="warn",
           SEECRET_RATE_LIMIT_PER_MINUTE="0", SEECRET_REVEAL_RATE_LIMIT_PER_MINUTE="0")
server = subprocess.Popen([os.path.join(ROOT, "target/release/seecret"), "serve", "--bind", "127.0.0.1:18282",
                           "--data-dir", data], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
try:
    token = None
    while token is None:
        line = server.stdout.readline()
        if re.fullmatch(r"[0-9a-f-]{36}\n", line):
            token = line.strip()
    base = "http://127.0.0.1:18282"
    def call(body, auth=True):
        req = urllib.request.Request(base + "/api.php", json.dumps(body).encode(), {"Content-Type": "application/json"})
        if auth:
            req.add_header("Authorization", "Bearer " + token)
        return json.loads(urllib.request.urlopen(req).read())
    call({"operation": "update_account", "webhook_url": f"http://127.0.0.1:{hook.server_port}/hook"})
    revealed = {}
    for _ in range(N):
        s = call({"operation": "create_seecret", "content": "x"})
        call({"operation": "reveal_seecret", "id": s["id"], "key": s["url"].split("#")[1]}, auth=False)
        revealed[s["id"]] = time.monotonic()
        time.sleep(0.005)
    deadline = time.monotonic() + 30
    while len(arrived) < N and time.monotonic() < deadline:
        time.sleep(0.05)
    lat = sorted((arrived[i] - t) * 1000 for i, t in revealed.items() if i in arrived)
    print(f"{len(lat)}/{N} delivered; reveal answered → webhook received: "
          f"p50 {lat[len(lat) // 2]:.1f} ms, p99 {lat[int(len(lat) * 0.99) - 1]:.1f} ms, max {lat[-1]:.1f} ms")
finally:
    server.terminate(); server.wait(); shutil.rmtree(data, ignore_errors=True)
