#!/usr/bin/env python3
"""End-to-end test of the real desktop app under X (Xvfb), driven by tauri-driver + WebKitWebDriver
with plain W3C WebDriver JSON, and a real OS drag-and-drop made with a GTK drag source + xdotool.

Scenarios (each prints PASS or raises):
  1. first run: settings are entered in the window and checked against a real `seecret serve`;
  2. paste text, click Share, read the link from the page; it reveals the exact text;
  3. drag a file from another X window onto the drop zone, click Share; the link reveals the file's
     exact bytes;
  4. request a secret from the window, answer it as the responder page does (X25519, HKDF,
     AES-GCM from Python's `cryptography`); the window shows the exact answer.
Screenshots of the window are written to --artifacts (with `import -window root`: WebDriver's
screenshot endpoint hangs under Xvfb).

Needs DISPLAY (the caller starts Xvfb), tauri-driver, WebKitWebDriver, xdotool, imagemagick and
python3-gi. Every process it starts is stopped by PID.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    print(f"[e2e] {msg}", flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(what, f, timeout=30.0, every=0.1):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            v = f()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = e
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}" + (f" (last error: {last})" if last else ""))


class WebDriver:
    """The few W3C WebDriver calls the test needs."""

    def __init__(self, url):
        self.url = url
        self.sid = None

    def call(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read() or b"{}").get("value")
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: HTTP {e.code} {e.read()[:500]!r}") from None

    def start(self, app):
        caps = {"capabilities": {"alwaysMatch": {"browserName": "wry", "tauri:options": {"application": app}}}}
        v = self.call("POST", "/session", caps, timeout=120)
        self.sid = v["sessionId"]

    def s(self, path):
        return f"/session/{self.sid}{path}"

    def find(self, css):
        v = self.call("POST", self.s("/element"), {"using": "css selector", "value": css})
        return next(iter(v.values()))

    def find_all(self, css):
        v = self.call("POST", self.s("/elements"), {"using": "css selector", "value": css})
        return [next(iter(e.values())) for e in v]

    def click(self, css):
        self.call("POST", self.s(f"/element/{self.find(css)}/click"), {})

    def clear(self, css):
        self.call("POST", self.s(f"/element/{self.find(css)}/clear"), {})

    def type(self, css, text):
        self.clear(css)
        self.call("POST", self.s(f"/element/{self.find(css)}/value"), {"text": text})

    def text(self, css):
        return self.call("GET", self.s(f"/element/{self.find(css)}/text"))

    def prop(self, css, name):
        return self.call("GET", self.s(f"/element/{self.find(css)}/property/{name}"))

    def rect(self, css):
        return self.call("GET", self.s(f"/element/{self.find(css)}/rect"))

    def script(self, js, args=None):
        return self.call("POST", self.s("/execute/sync"), {"script": js, "args": args or []})

    def quit(self):
        if self.sid:
            # DELETE can hang with WebKitWebDriver: never wait long for it.
            try:
                self.call("DELETE", self.s(""), timeout=5)
            except Exception:  # noqa: BLE001
                pass


class Procs:
    """Processes started here, stopped by PID in reverse order."""

    def __init__(self):
        self.procs = []

    def start(self, args, **kw):
        p = subprocess.Popen(args, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    p.wait(timeout=5)


def start_server(procs, seecret, data_dir):
    """Starts `seecret serve` on a free loopback port; returns its URL and first account's token."""
    import queue
    import threading
    p = procs.start([seecret, "serve", "--bind", "127.0.0.1:0", "--data-dir", data_dir],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                    env={**os.environ, "SEECRET_LOG": "info", "NO_COLOR": "1"})
    lines = queue.Queue()

    def pump(f):
        # Keep draining so the server never blocks on a full pipe.
        for line in f:
            lines.put(line)

    threading.Thread(target=pump, args=(p.stdout,), daemon=True).start()
    threading.Thread(target=pump, args=(p.stderr,), daemon=True).start()
    addr = token = None
    deadline = time.time() + 30
    while (addr is None or token is None) and time.time() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        m = re.search(r"seecret listening addr=(\S+)", line)
        if m:
            addr = m.group(1)
        if re.fullmatch(r"[0-9a-f-]{36}", line.strip()):
            token = line.strip()
    if not addr or not token:
        raise AssertionError("seecret serve did not start (no address or token)")
    return f"http://{addr}", token


def reveal(seecret, link, out):
    r = subprocess.run([seecret, "reveal", link, "--output", out], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"seecret reveal failed: {r.stderr}")
    with open(out, "rb") as f:
        return f.read()


def answer_request(base, link, text):
    """What the responder page does (docs/format.md, "Request a secret"): check the request, seal
    `text` to the public key in the link's fragment, post it once. Returns the request id."""
    import base64
    import urllib.request
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    def unb64(s):
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

    path, q = link.split("#", 1)
    rid = path.rsplit("/r/", 1)[1]
    with urllib.request.urlopen(f"{base}/v1/requests/{rid}/public", timeout=30) as r:
        public = json.load(r)
    assert public["public_key"] == q and public["status"] == "open", public
    e = X25519PrivateKey.generate()
    z = e.exchange(X25519PublicKey.from_public_bytes(unb64(q)))
    k = HKDF(algorithm=hashes.SHA256(), length=32, salt=rid.encode(), info=b"seecret/v1/request").derive(z)
    nonce = os.urandom(12)
    envelope = b"\x01" + nonce + AESGCM(k).encrypt(nonce, text.encode(), rid.encode())
    body = json.dumps({
        "ciphertext": base64.b64encode(envelope).decode(),
        "ephemeral_public_key": base64.urlsafe_b64encode(
            e.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode().rstrip("="),
    }).encode()
    req = urllib.request.Request(f"{base}/v1/requests/{rid}/answer", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 201, r.status
    return rid


def screenshot(path, crop=None):
    """The X screen (or the crop `(w, h, x, y)` of it) as a PNG."""
    args = ["/usr/bin/import", "-window", "root"]
    if crop:
        w, h, x, y = crop
        args += ["-crop", f"{w}x{h}+{x}+{y}", "+repage"]
    subprocess.run(args + [path], check=True, timeout=30)
    log(f"screenshot {path}")


def window_geometry(title="Seecret"):
    """The window's size and position on the X screen: (w, h, x, y)."""
    out = subprocess.run(["xdotool", "search", "--name", f"^{title}$"], capture_output=True, text=True).stdout.split()
    for wid in out:
        g = subprocess.run(["xdotool", "getwindowgeometry", "--shell", wid], capture_output=True, text=True).stdout
        vals = dict(line.split("=", 1) for line in g.split() if "=" in line)
        if int(vals.get("WIDTH", "0")) > 300:
            return int(vals["WIDTH"]), int(vals["HEIGHT"]), int(vals["X"]), int(vals["Y"])
    raise AssertionError("the Seecret window is not on the X screen")


def drag(src, dst, steps=25):
    """A real XDND drag: press on the source, move in steps (one jump starts no drag), release."""
    sx, sy = src
    dx, dy = dst
    subprocess.run(["xdotool", "mousemove", str(sx), str(sy)], check=True)
    time.sleep(0.3)
    subprocess.run(["xdotool", "mousedown", "1"], check=True)
    time.sleep(0.2)
    for i in range(1, steps + 1):
        x = sx + (dx - sx) * i // steps
        y = sy + (dy - sy) * i // steps
        subprocess.run(["xdotool", "mousemove", str(x), str(y)], check=True)
        time.sleep(0.05)
    time.sleep(0.5)
    subprocess.run(["xdotool", "mouseup", "1"], check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True, help="the seecret-desktop binary")
    ap.add_argument("--seecret", required=True, help="the seecret server binary")
    ap.add_argument("--artifacts", required=True, help="directory for screenshots and logs")
    ap.add_argument("--readme-shot", help="also save the share screenshot here (for the README)")
    args = ap.parse_args()
    for tool in ("tauri-driver", "WebKitWebDriver", "xdotool"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/bin/{tool}"):
            raise SystemExit(f"{tool} is missing (scripts/test-desktop installs it)")
    if not os.environ.get("DISPLAY"):
        raise SystemExit("DISPLAY is not set: run under Xvfb (scripts/test-desktop does)")
    os.makedirs(args.artifacts, exist_ok=True)

    procs = Procs()
    wd = None
    tmp = tempfile.mkdtemp(prefix="seecret-e2e-")
    try:
        base, token = start_server(procs, args.seecret, os.path.join(tmp, "server"))
        log(f"server at {base}")

        # The app's settings and autostart entry go to a throwaway home, never the user's.
        home = os.path.join(tmp, "home")
        os.makedirs(home)
        env = {**os.environ, "HOME": home, "XDG_CONFIG_HOME": os.path.join(home, ".config"),
               "XDG_DATA_HOME": os.path.join(home, ".local/share"), "NO_AT_BRIDGE": "1",
               "WEBKIT_DISABLE_COMPOSITING_MODE": "1", "SEECRET_LOG": "info"}
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        port, native = free_port(), free_port()
        driver_log = open(os.path.join(args.artifacts, "tauri-driver.log"), "w")
        procs.start(["tauri-driver", "--port", str(port), "--native-port", str(native),
                     "--native-driver", shutil.which("WebKitWebDriver") or "/usr/bin/WebKitWebDriver"],
                    env=env, stdout=driver_log, stderr=subprocess.STDOUT)
        wd = WebDriver(f"http://127.0.0.1:{port}")
        # Both tauri-driver and the WebKitWebDriver it starts must listen before a session.
        for p in (port, native):
            wait_until(f"a WebDriver on port {p}",
                       lambda p=p: socket.create_connection(("127.0.0.1", p), timeout=1).close() or True)
        wait_until("a WebDriver session", lambda: wd.start(os.path.abspath(args.app)) or True, timeout=90, every=1)
        log("app started")
        wait_until("the page to be ready", lambda: wd.find_all('body[data-ready="1"]'))
        title = wd.call("GET", wd.s("/title"))
        assert title == "Seecret", title

        # 1. First run lands on Settings; the token is checked with the server.
        assert not wd.prop("#page-settings", "hidden"), "first run should show Settings"
        wd.type("#server-url", base)
        wd.type("#token", "00000000-0000-0000-0000-000000000000")
        wd.click("#save-settings")
        err = wait_until("the token error", lambda: (not wd.prop("#error", "hidden")) and wd.text("#error-text"))
        assert "rejected the API token" in err, err
        wd.click("#error-close")
        wd.type("#token", token)
        wd.click("#save-settings")
        status = wait_until("settings saved", lambda: "Connected as" in wd.text("#settings-status") and wd.text("#settings-status"))
        log(f"PASS settings: {status}")

        # 2. Paste text, Share, read the link from the page; it reveals the exact text.
        wd.click("#tab-share")
        secret = "e2e pässword: " + str(time.time())
        wd.type("#text", secret)
        wd.type("#label", "staging db")
        wd.click("#share")
        link = wait_until("the link", lambda: wd.prop("#link", "value"))
        assert link.startswith(base + "/s/"), link
        note = wd.text("#result-note")
        time.sleep(0.3)
        screenshot(os.path.join(args.artifacts, "desktop-screen.png"))
        screenshot(os.path.join(args.artifacts, "desktop-share.png"), crop=window_geometry())
        if args.readme_shot:
            shutil.copyfile(os.path.join(args.artifacts, "desktop-share.png"), args.readme_shot)
        got = reveal(args.seecret, link, os.path.join(tmp, "revealed.txt"))
        assert got == secret.encode(), (got, secret)
        log(f"PASS paste-and-share: the link reveals the exact text ({note!r})")

        # 3. A real OS drag-and-drop from another X window.
        payload = os.urandom(200_000) + b"end"
        drop_file = os.path.join(tmp, "drop-me.bin")
        with open(drop_file, "wb") as f:
            f.write(payload)
        _, _, ox, oy = window_geometry()
        r = wd.rect("#dropzone")
        target = (ox + int(r["x"] + r["width"] / 2), oy + int(r["y"] + r["height"] / 2))
        src_x, src_y = 900, 120
        ready = os.path.join(tmp, "source-ready")
        # Debian's python3 has python3-gi; a python3 earlier on PATH may not.
        gi_python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
        procs.start([gi_python, os.path.join(HERE, "drag_source.py"), drop_file, str(src_x), str(src_y), ready])
        wait_until("the drag source window", lambda: os.path.exists(ready), timeout=20)
        time.sleep(0.5)
        dropped = False
        for attempt in range(3):
            drag((src_x + 100, src_y + 60), target)
            try:
                wait_until("the dropped file in the list",
                           lambda: any("drop-me.bin" in wd.text(f"#staged li:nth-child({i + 1})")
                                       for i in range(len(wd.find_all("#staged li")))), timeout=8)
                dropped = True
                break
            except AssertionError:
                log(f"drop attempt {attempt + 1} not seen; retrying")
        assert dropped, "the drop never reached the app"
        screenshot(os.path.join(args.artifacts, "desktop-dropped.png"))
        old = wd.prop("#link", "value")
        wd.clear("#label")
        wd.click("#share")
        link2 = wait_until("the file's link", lambda: (wd.prop("#link", "value") != old) and wd.prop("#link", "value"), timeout=60)
        got = reveal(args.seecret, link2, os.path.join(tmp, "revealed.bin"))
        assert got == payload, f"revealed {len(got)} bytes, expected {len(payload)}"
        log("PASS drag-and-drop: the dropped file's link reveals its exact bytes")

        # Recent links list both, with their status.
        wd.click("#tab-recent")
        rows = wait_until("recent rows", lambda: len(wd.find_all("#recent-body tr")) >= 2 and wd.find_all("#recent-body tr"))
        states = wd.script("return [...document.querySelectorAll('#recent-body .state')].map(e => e.textContent)")
        assert states[:2] == ["consumed", "consumed"], states
        screenshot(os.path.join(args.artifacts, "desktop-recent.png"), crop=window_geometry())
        log(f"PASS recent links: {len(rows)} rows, states {states}")

        # 4. Request a secret from the window; someone answers through the responder page's
        # steps; the window shows the exact answer, which the app opened with its private key.
        wd.click("#tab-request")
        wd.type("#request-note", "e2e: the staging password")
        wd.click("#request-create")
        rlink = wait_until("the request link", lambda: wd.prop("#request-link", "value"))
        assert rlink.startswith(base + "/r/") and "#" in rlink, rlink
        answer = "answered in e2e: " + str(time.time())
        answer_request(base, rlink, answer)
        got = wait_until("the answer in the window", lambda: wd.prop("#request-answer", "value"), timeout=30)
        assert got == answer, (got, answer)
        screenshot(os.path.join(args.artifacts, "desktop-request.png"), crop=window_geometry())
        log("PASS request a secret: the window shows the exact answer")
        return 0
    finally:
        if wd:
            wd.quit()
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
