"""A stub ``/v1/health`` server for the probe tests (stdlib only, threads): the failures a real
agent never shows. ``python stub_health.py PORT PROVIDER_KEY``; the path's first part picks the
behaviour:

- ``/sleep/v1/health``: never answers (sleeps until the process is killed): a timeout;
- ``/status/v1/health``: 503;
- ``/garbage/v1/health``: 200 with a body that is not JSON;
- ``/list/v1/health``: 200 with a JSON list;
- ``/huge/v1/health``: 200 with a megabyte of JSON;
- ``/chain/<id>/v1/health``: 200, the provider's own key signing the challenge for chain
  ``<id> + 1`` (another chain than the one the prober asks for).
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from eth_account import Account
from eth_account.messages import encode_defunct

from computerails.health import health_message

KEY = sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        parts = urlsplit(self.path)
        mode, *rest = parts.path.strip("/").split("/")
        query = parse_qs(parts.query)
        if mode == "sleep":
            time.sleep(3_600)
        elif mode == "status":
            self._send(503, b'{"error": "overloaded"}')
        elif mode == "garbage":
            self._send(200, b"<html>up!</html>")
        elif mode == "list":
            self._send(200, b"[1, 2, 3]")
        elif mode == "huge":
            self._send(200, json.dumps({"padding": "x" * 1_000_000}).encode())
        elif mode == "chain":
            challenge = bytes.fromhex(query["challenge"][0][2:])
            chain_id = int(rest[0]) + 1
            account = Account.from_key(KEY)
            message = encode_defunct(primitive=health_message(challenge, chain_id, account.address))
            signature = "0x" + bytes(account.sign_message(message).signature).hex()
            answer = {"provider": account.address, "chain_id": chain_id, "signature": signature}
            self._send(200, json.dumps(answer).encode())
        else:
            self._send(404, b"{}")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's signature
        sys.stderr.write(format % args + "\n")


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()
