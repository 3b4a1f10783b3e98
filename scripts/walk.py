#!/usr/bin/env python3
"""Walks the service as its users would, in headless Chromium, and saves a screenshot of every
step: the check before an issue is resolved, repeatable.

    scripts/walk.py [--binary target/release/inkan] [--out DIR] [--port 18080]

It starts `inkan serve` (the README's run command, built) on a fresh data folder with mail as
.eml files, and drives Chromium through chromedriver's WebDriver API (plain HTTP, no Python
package needed). The walk: the administrator's first login and password change; a signer made
on /users/new, whose mailed temporary password is read from the outbox; the signer's first login,
a seal uploaded and saved on /seals; a password reset asked for on /password/reset, its mailed
link followed and a new password set; a form over its size limit; the administrator's audit
screen. Each step checks what the page says and stops with a message if it is wrong.
Screenshots go to DIR (default target/walk), numbered in the order taken.
"""

import argparse
import base64
import email
import email.policy
import glob
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


class Walk:
    def __init__(self, base, out, driver_port):
        self.base = base
        self.out = out
        self.shots = 0
        self.driver = f"http://127.0.0.1:{driver_port}"
        caps = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:loggingPrefs": {"browser": "ALL"},
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": [
                            "--headless",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--no-first-run",
                            "--disable-background-networking",
                            "--window-size=1280,900",
                        ],
                        "prefs": {"intl.accept_languages": "ja"},
                    },
                }
            }
        }
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.driver + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.load(r)["value"]
        except urllib.error.HTTPError as e:
            raise SystemExit(f"WebDriver {method} {path}: {e.read().decode()[:500]}")

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def go(self, path):
        self.s("POST", "/url", {"url": self.base + path})

    def find(self, css, wait=10.0):
        until = time.time() + wait
        while True:
            found = self.s("POST", "/elements", {"using": "css selector", "value": css})
            if found:
                return next(iter(found[0].values()))
            if time.time() > until:
                self.shot("missing")
                raise SystemExit(f"no element {css!r} on {self.url()}")
            time.sleep(0.2)

    def type(self, css, text):
        el = self.find(css)
        self.s("POST", f"/element/{el}/clear", {})
        self.s("POST", f"/element/{el}/value", {"text": text})

    def click(self, css):
        self.s("POST", f"/element/{self.find(css)}/click", {})

    def select(self, css, value):
        self.click(f"{css} option[value='{value}']")

    def js(self, script):
        return self.s("POST", "/execute/sync", {"script": script, "args": []})

    def text(self):
        return self.js("return document.body.innerText")

    def url(self):
        return self.s("GET", "/url")

    def submit(self, css, path, wait=15.0):
        """Clicks `css` and waits until the browser is on a page whose path starts with `path`."""
        # A mark on the page that is: it is gone once another page has loaded, even at the same
        # address (a form answered in place).
        self.js("window.__walkMark = true")
        self.click(css)
        until = time.time() + wait
        while True:
            now = self.url()
            here = "/" + now.split("/", 3)[3] if now.count("/") >= 3 else "/"
            loaded = self.js("return window.__walkMark === undefined && document.readyState")
            if loaded == "complete" and here.startswith(path):
                return
            if time.time() > until:
                self.shot("stuck")
                raise SystemExit(f"after {css} the browser is on {now}, not {path}")
            time.sleep(0.1)

    def expect(self, *words):
        page = self.text()
        for w in words:
            if w not in page:
                self.shot("unexpected")
                raise SystemExit(f"{self.url()} does not say {w!r}:\n{page[:1500]}")

    def shot(self, name):
        self.shots += 1
        path = os.path.join(self.out, f"{self.shots:02d}-{name}.png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.s("GET", "/screenshot")))
        print(f"  screenshot {path}")

    def csp_violations(self):
        """Messages the console logged about the Content-Security-Policy."""
        logs = self.s("POST", "/se/log", {"type": "browser"}) or []
        return [e["message"] for e in logs if "Content Security Policy" in e.get("message", "")]

    def login(self, address, password):
        self.go("/login")
        self.type("[name=email]", address)
        self.type("[name=password]", password)
        self.submit("#login-submit", "/")

    def logout(self):
        self.submit("#logout", "/login")

    def close(self):
        self.s("DELETE", "")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, what, seconds=60):
    until = time.time() + seconds
    while time.time() < until:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not answer at {url}")


def mail_to(outbox, to, subject_part, after=0, seconds=30):
    """The newest mail to `to` whose subject contains `subject_part`, of more than `after`."""
    until = time.time() + seconds
    while time.time() < until:
        found = []
        for path in sorted(glob.glob(os.path.join(outbox, "*.eml")), key=os.path.getmtime):
            with open(path, "rb") as f:
                m = email.message_from_binary_file(f, policy=email.policy.default)
            if to in str(m["To"]) and subject_part in str(m["Subject"]):
                found.append(m.get_body(("plain",)).get_content())
        if len(found) > after:
            return found[-1]
        time.sleep(0.3)
    raise SystemExit(f"no mail to {to} about {subject_part!r} in {outbox}")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=os.path.join(root, "target/release/inkan"))
    ap.add_argument("--out", default=os.path.join(root, "target/walk"))
    ap.add_argument("--port", type=int, default=free_port())
    args = ap.parse_args()
    for tool in (args.binary, CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(tool):
            raise SystemExit(f"missing {tool} (cargo build --release -p inkan; scripts/test.sh installs Chromium)")
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    data = tempfile.mkdtemp(prefix="inkan-walk.")
    base = f"http://127.0.0.1:{args.port}"
    env = dict(os.environ, INKAN_DATA_DIR=data, INKAN_LISTEN=f"127.0.0.1:{args.port}", INKAN_BASE_URL=base)
    env.pop("DATABASE_URL", None)
    log = open(os.path.join(args.out, "serve.log"), "w")
    server = subprocess.Popen([args.binary, "serve"], env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    driver_port = free_port()
    driver = subprocess.Popen([CHROMEDRIVER, f"--port={driver_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        password = None
        for line in server.stdout:
            print("  serve:", line.rstrip())
            m = re.match(r"\s*temporary password:\s*(\S+)", line)
            if m:
                password = m.group(1)
            if password and line.startswith("Listening on"):
                break
        if not password:
            raise SystemExit("inkan serve printed no temporary password")
        wait_for(base + "/healthz", "inkan serve")
        wait_for(f"http://127.0.0.1:{driver_port}/status", "chromedriver")
        walk = Walk(base, args.out, driver_port)
        outbox = os.path.join(data, "outbox")
        run(walk, password, outbox)
        print(f"walked; screenshots in {args.out}")
    finally:
        try:
            walk.close()
        except Exception:
            pass
        driver.terminate()
        server.terminate()
        server.wait(10)
        shutil.rmtree(data, ignore_errors=True)


def stamp_png(path, side=240):
    """A red ring on off-white paper, like a scanned 印影, as a PNG written by hand."""
    c = side / 2
    rows = bytearray()
    for y in range(side):
        rows.append(0)
        for x in range(side):
            r = ((x - c) ** 2 + (y - c) ** 2) ** 0.5
            rows += bytes((200, 30, 40) if abs(r - c * 0.8) < c * 0.08 else (246, 244, 236))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(bytes(rows))))
        f.write(chunk(b"IEND", b""))


def run(w, temporary, outbox):
    admin = "admin@localhost"
    print("1. the administrator's first login")
    w.login(admin, temporary)
    w.find("#password-form")
    w.expect("パスワード")
    w.shot("first-login-password")
    w.type("[name=current_password]", temporary)
    w.type("[name=new_password]", "Admin2026walk")
    w.type("[name=new_password_confirmation]", "Admin2026walk")
    w.submit("#password-submit", "/?")
    w.shot("home")

    print("2. a signer made on /users/new")
    w.go("/users/new")
    w.type("[name=display_name]", "署名 花子")
    w.type("[name=email]", "hanako@example.jp")
    w.select("#roles", "signer")
    w.shot("user-new")
    w.submit("#user-submit", "/users")
    w.expect("署名 花子")
    w.shot("user-made")
    w.logout()
    body = mail_to(outbox, "hanako@example.jp", "アカウント")
    m = re.search(r"(?:仮パスワード|パスワード)\s*[:：]\s*(\S+)", body)
    if not m:
        raise SystemExit(f"no temporary password in the mail:\n{body}")

    print("3. the signer's first login and a seal")
    w.login("hanako@example.jp", m.group(1))
    w.type("[name=current_password]", m.group(1))
    w.type("[name=new_password]", "Hanako2026walk")
    w.type("[name=new_password_confirmation]", "Hanako2026walk")
    w.submit("#password-submit", "/?")
    w.go("/profile")
    image = os.path.join(w.out, "seal-scan.png")
    stamp_png(image)
    w.s("POST", f"/element/{w.find('#seal-file')}/value", {"text": image})
    w.submit("#seal-upload", "/profile")
    w.find("#seal-preview")
    w.shot("seal-draft")
    w.type("#seal-name", "walk")
    w.submit("#seal-save", "/profile")
    w.find("#seal-list")
    w.shot("seals")
    w.logout()

    print("4. a password reset by mail")
    w.go("/password/reset")
    w.type("[name=email]", "hanako@example.jp")
    w.submit("form[action='/password/reset'] button[type=submit]", "/password/reset")
    w.find("#reset-sent")
    w.shot("reset-sent")
    body = mail_to(outbox, "hanako@example.jp", "パスワード")
    link = re.search(r"https?://\S+/password/reset/\S+", body)
    if not link:
        raise SystemExit(f"no reset link in the mail:\n{body}")
    w.s("POST", "/url", {"url": link.group(0)})
    w.type("[name=new_password]", "Hanako2026reset")
    w.type("[name=new_password_confirmation]", "Hanako2026reset")
    w.shot("reset-set")
    w.submit("form[action^='/password/reset/'] button", "/login")
    w.login("hanako@example.jp", "Hanako2026reset")
    w.find("#logout")
    w.shot("after-reset")

    print("5. a form over its limit")
    w.s(
        "POST",
        "/execute/sync",
        {
            "script": "const f = document.createElement('form'); f.method = 'post';"
            " f.action = '/profile'; const i = document.createElement('input');"
            " i.name = 'display_name'; i.value = 'x'.repeat(100000); f.append(i);"
            " document.body.append(f); f.submit();",
            "args": [],
        },
    )
    time.sleep(1)
    w.expect("リクエストが大きすぎます（最大 64 KB）")
    w.shot("form-too-large")
    w.go("/")
    w.logout()

    print("6. the administrator's audit screen")
    w.login(admin, "Admin2026walk")
    w.go("/audit")
    w.expect("監査ログのハッシュチェーンは正常です")
    w.shot("audit")
    w.js("document.querySelector('table').scrollIntoView()")
    w.shot("audit-entries")
    violations = w.csp_violations()
    if violations:
        raise SystemExit(f"CSP violations: {violations}")


if __name__ == "__main__":
    sys.exit(main())
