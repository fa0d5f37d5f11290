"""The audit webhook receiver: the API server POSTs ``audit.k8s.io`` EventLists here.

Any POST path is accepted (Falco uses ``/k8s-audit``); the body is an ``EventList`` (or one
Event, or a JSON array). Events are evaluated as they arrive and alerts go to the dispatcher.
Serve over HTTPS with ``certfile``/``keyfile``; plain HTTP only when no certificate is given.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from stockade.engines.falco.engine import Alert, Engine
from stockade.engines.falco.k8saudit import K8sAuditEvent
from stockade.engines.falco.sources import audit_objects

MAX_BODY = 64 * 1024 * 1024


class AuditWebhook:
    """An HTTP(S) server evaluating posted audit events with one engine."""

    def __init__(
        self,
        engine: Engine,
        emit: Callable[[Alert], None],
        host: str = "127.0.0.1",
        port: int = 8765,
        certfile: str | None = None,
        keyfile: str | None = None,
        extra: Callable[[K8sAuditEvent], list[Alert]] | None = None,
        on_reject: Callable[[str], None] | None = None,
    ) -> None:
        self.engine = engine
        self.emit = emit
        self.extra = extra
        # told about each rejected POST, so the operator sees what the API server got back
        self.on_reject = on_reject
        self.rejected = 0
        self.lock = threading.Lock()
        self.received = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "stockade-runtime"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _reply(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/") in ("/healthz", ""):
                    self._reply(200, {"status": "ok", "events": outer.received})
                else:
                    self._reply(404, {"error": "not found"})

            def _reject(self, code: int, why: str) -> None:
                outer.rejected += 1
                if outer.on_reject is not None:
                    outer.on_reject(f"POST {self.path} from {self.client_address[0]}: {code} {why}")
                self._reply(code, {"error": why})

            def do_POST(self) -> None:
                try:
                    length = int(self.headers.get("Content-Length", "0"))
                except ValueError:
                    length = -1
                if length < 0 or length > MAX_BODY:
                    self._reject(413, "body too large or length missing")
                    return
                raw = self.rfile.read(length)
                try:
                    doc = json.loads(raw)
                except ValueError:
                    self._reject(400, "body is not JSON")
                    return
                n, alerts = outer.handle(doc)
                self._reply(200, {"events": n, "alerts": alerts})

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        if certfile:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(certfile, keyfile)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        return int(self.httpd.server_address[1])

    def handle(self, doc: Any) -> tuple[int, int]:
        """Evaluate every event of a posted document; (events, alerts)."""
        n = a = 0
        with self.lock:
            for obj in audit_objects(doc):
                n += 1
                self.received += 1
                ev = K8sAuditEvent(obj, self.received)
                alerts = self.engine.evaluate(ev)
                if self.extra is not None:
                    alerts = alerts + self.extra(ev)
                for al in alerts:
                    a += 1
                    self.emit(al)
        return n, a

    def start(self) -> None:
        """Serve in a background thread."""
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`shutdown`."""
        self.httpd.serve_forever()

    def shutdown(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
