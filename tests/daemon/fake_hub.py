"""A minimal hub over real HTTP for daemon tests: approves enrollment, hands out the same commands on every pull
(a hub that delivers again), countersigns checkpoints and keeps the command results the kiosk sends."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend_sync import protocol as p
from backend_sync.builder import countersign
from backend_sync.commands import RESULT_EVENT, Command, sign_command
from backend_sync.keys import Signer, b64, fingerprint, key_id


@dataclass
class HubRecord:
    """What the hub has seen, by kind of request, and the command results (event bodies) in arrival order."""

    requests: list[str] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    pulls_with_commands: int = 0


class FakeHub:
    """Serves one device on 127.0.0.1; ``url`` is its base URL. ``close`` stops it."""

    def __init__(self, device_id: str) -> None:
        self.device_id = device_id
        self.signer = Signer.generate()
        self.commands: list[dict[str, Any]] = []
        self.record = HubRecord()
        self._lock = threading.Lock()
        self._device_keys: dict[str, Ed25519PublicKey] = {}
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("content-length", "0")))
                try:
                    status, body = hub.answer(self.path, data)
                except Exception as exc:  # the test sees the refusal in the daemon's log
                    status, body = 400, json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # the real hub's /healthz (what `wibox doctor` asks); nothing else
                body = b'{"status": "ok"}' if self.path == "/healthz" else b'{"error": "not found"}'
                self.send_response(200 if self.path == "/healthz" else 404)  # also sends the Date header
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-hub", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    def deliver(self, cmd: Command) -> None:
        """Hand ``cmd`` out, signed, in every pull response from now on."""
        with self._lock:
            self.commands = [sign_command(self.signer, cmd)]

    def results(self, command_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.record.results if r.get("command") == command_id]

    def seen(self, path: str) -> int:
        """How many requests for ``path`` the hub has answered."""
        with self._lock:
            return self.record.requests.count(path)

    def pulls_with_commands(self) -> int:
        with self._lock:
            return self.record.pulls_with_commands

    # -- the API ---------------------------------------------------------------------------------------
    def answer(self, path: str, data: bytes) -> tuple[int, bytes]:
        with self._lock:
            self.record.requests.append(path)
            if path == "/api/v1/enroll":
                announce = p.verify_self_signed(data).body
                assert isinstance(announce, p.KeyAnnounceBody)
                raw = announce.sign_public
                self._device_keys[key_id(raw)] = Ed25519PublicKey.from_public_bytes(raw)
                answer = {"status": "pending", "code": "12345678", "key_fingerprint": fingerprint(raw)}
                return 200, json.dumps(answer).encode()
            msg = p.verify_kiosk_message(data, self.device_id, self._device_keys)
            body = msg.body
            if path == "/api/v1/enroll/status":
                keys = [{"key_id": self.signer.key_id, "public_key": b64(self.signer.public_raw)}]
                return 200, json.dumps({"status": "approved", "hub_keys": keys}).encode()
            if path == "/api/v1/kiosk/pull":
                self.record.pulls_with_commands += bool(self.commands)
                return 200, json.dumps({"bundle": None, "commands": self.commands}).encode()
            if path == "/api/v1/kiosk/events" and isinstance(body, p.EventsBody):
                for e in body.events:
                    if e.kind == RESULT_EVENT:
                        self.record.results.append(json.loads(e.body))
                return 200, json.dumps({"accepted": [e.id for e in body.events], "refused": {}}).encode()
            if path == "/api/v1/kiosk/checkpoint" and isinstance(body, p.CheckpointBody):
                return 200, countersign(self.signer, self.device_id, body)
            if path == "/api/v1/kiosk/heartbeat":
                return 200, json.dumps({"commands": [], "time": int(time.time())}).encode()
            return 404, b'{"error": "not served here"}'
