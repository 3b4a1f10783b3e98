#!/usr/bin/env python3
"""pki_server.py DIR -- a test PKI's services on loopback, for tools that fetch them (pyHanko's
`sign ltvfix`, `sign ltaupdate`, `addsig --timestamp-url`).

  GET /NAME   answers the file DIR/NAME (the CRLs the certificates name)
  POST /tsa   answers an RFC 3161 request with `openssl ts -reply -config DIR/tsa.cnf`

Listens on 127.0.0.1 at a free port and prints the port as its first line. Stops when its
standard input closes, so it ends with the test process that started it. Standard library only.
"""

import http.server
import os
import subprocess
import sys
import tempfile
import threading

ROOT = os.path.abspath(sys.argv[1]) if len(sys.argv) == 2 else sys.exit("usage: pki_server.py DIR")
TSA_LOCK = threading.Lock()  # openssl ts keeps its serial number in a file


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, status, body, kind="application/octet-stream"):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        name = os.path.basename(self.path.split("?")[0])
        path = os.path.join(ROOT, name)
        if not name or not os.path.isfile(path):
            return self.answer(404, b"not found\n", "text/plain")
        kind = "application/pkix-crl" if name.endswith(".crl") else "application/octet-stream"
        with open(path, "rb") as f:
            self.answer(200, f.read(), kind)

    def do_POST(self):
        if self.path.split("?")[0] != "/tsa":
            return self.answer(404, b"not found\n", "text/plain")
        query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with TSA_LOCK, tempfile.TemporaryDirectory() as work:
            req, resp = os.path.join(work, "req.tsq"), os.path.join(work, "resp.tsr")
            with open(req, "wb") as f:
                f.write(query)
            p = subprocess.run(
                ["openssl", "ts", "-reply", "-config", os.path.join(ROOT, "tsa.cnf"),
                 "-queryfile", req, "-out", resp],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if p.returncode != 0:
                return self.answer(400, p.stdout, "text/plain")
            with open(resp, "rb") as f:
                self.answer(200, f.read(), "application/timestamp-reply")

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()  # until the test process goes away
server.shutdown()
