"""A webhook receiver for the end-to-end tests, verifying every delivery with
the official Standard Webhooks package from PyPI (`standardwebhooks`).

It listens on 127.0.0.1 (port 0 unless given) and prints `listening <port>`.
The test drives it over HTTP:

  POST /_control  {"secrets": [...], "fail_first": N, "status": S,
                   "retry_after": R}
                  secrets to verify with; answer 503 to the next N deliveries
                  (with Retry-After: R if given); answer S (e.g. 410) to
                  every delivery from now on.
  GET  /_log      every delivery received: id, timestamp, type, verified,
                  error, status answered, body
  POST /_verify   {"secret", "body", "headers"}: verify one message as a
                  receiver would, answer {"ok": bool, "error": str}
  POST /hook      where Ombud delivers (and /hook/<name>, logged with its path)

Usage: receiver.py [--port P] [--down]
With --down it exits after printing its port (a receiver that is not there).
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

LOCK = threading.Lock()
STATE = {"secrets": [], "fail_first": 0, "status": None, "retry_after": None, "log": []}


def verify(secrets, body, headers):
    """The package's own check, with each secret until one accepts."""
    error = "no secret configured"
    for secret in secrets:
        try:
            Webhook(secret).verify(body, headers)
            return True, ""
        except WebhookVerificationError as e:
            error = str(e)
        except Exception as e:  # a malformed secret or header
            error = f"{type(e).__name__}: {e}"
    return False, error


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length).decode("utf-8")

    def answer(self, status, value, headers=()):
        data = json.dumps(value).encode()
        self.send_response(status)
        for name, v in headers:
            self.send_header(name, v)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_log":
            with LOCK:
                return self.answer(200, STATE["log"])
        self.answer(404, {"error": "no such path"})

    def do_POST(self):
        raw = self.body()
        if self.path == "/_control":
            change = json.loads(raw)
            with LOCK:
                for key in ("secrets", "fail_first", "status", "retry_after"):
                    if key in change:
                        STATE[key] = change[key]
            return self.answer(200, {"ok": True})
        if self.path == "/_verify":
            req = json.loads(raw)
            ok, error = verify([req["secret"]], req["body"], req["headers"])
            return self.answer(200, {"ok": ok, "error": error})
        if self.path != "/hook" and not self.path.startswith("/hook/"):
            return self.answer(404, {"error": "no such path"})
        headers = {k.lower(): v for k, v in self.headers.items()}
        with LOCK:
            secrets = list(STATE["secrets"])
        ok, error = verify(secrets, raw, headers)
        extra = []
        with LOCK:
            if STATE["fail_first"] > 0:
                STATE["fail_first"] -= 1
                status = 503
                if STATE["retry_after"] is not None:
                    extra.append(("retry-after", str(STATE["retry_after"])))
            elif STATE["status"]:
                status = STATE["status"]
            else:
                status = 204 if ok else 400
            try:
                kind = json.loads(raw).get("type")
            except ValueError:
                kind = None
            STATE["log"].append(
                {
                    "id": headers.get("webhook-id"),
                    "path": self.path,
                    "timestamp": headers.get("webhook-timestamp"),
                    "signature": headers.get("webhook-signature"),
                    "type": kind,
                    "verified": ok,
                    "error": error,
                    "status": status,
                    "at": time.time(),
                    "body": raw,
                }
            )
        if status == 204:
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()
        else:
            self.answer(status, {"verified": ok, "error": error}, extra)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A sender that dies (the kill -9 test) resets its idle connections.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def main():
    port = 0
    if "--port" in sys.argv:
        port = int(sys.argv[sys.argv.index("--port") + 1])
    server = Server(("127.0.0.1", port), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    if "--down" in sys.argv:
        server.server_close()
        return
    server.serve_forever()


if __name__ == "__main__":
    main()
