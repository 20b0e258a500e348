"""An HTTP front that speaks API Gateway HTTP API (payload format 2.0) to the functions.

Routes come from the definitions. As API Gateway does with CORS configured, it answers preflight requests itself;
unknown routes get API Gateway's own 404, and a function that fails gets its 500 (503 on timeout).
It also serves the static web page at ``/``.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from image_analyzer.definitions import CORS, ROUTES
from local.auth import LocalIssuer, authorizer_context
from local.runtime import FunctionRuntime, InvocationError
from local.services import BackgroundHTTPServer

WEB_ROOT = Path(__file__).resolve().parent / "web"
# What the page is served with, here and (README) by any static host: its own script and style only (no inline
# code, no eval), pictures and requests to the API and storage origins the user works with, never framed, no
# referrer (the address may carry ?api=).
PAGE_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: http: https:; "
        "connect-src 'self' http: https:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
READ_TIMEOUT_S = 10.0
_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded", "application/xml")


def build_event(
    method: str, raw_path: str, headers: dict[str, str], body: bytes, route_key: str, source_ip: str
) -> dict[str, Any]:
    parts = urlsplit(raw_path)
    query_pairs = parse_qsl(parts.query, keep_blank_values=True)
    query: dict[str, str] = {}
    for key, value in query_pairs:  # API Gateway joins repeated parameters with commas
        query[key] = f"{query[key]},{value}" if key in query else value
    lowered = {k.lower(): v for k, v in headers.items()}
    content_type = lowered.get("content-type", "")
    is_text = any(content_type.startswith(t) for t in _TEXT_TYPES)
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": lowered,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": lowered.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": bool(body) and not is_text,
    }
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"] = body.decode("utf-8", "replace") if is_text else base64.b64encode(body).decode()
    if "cookie" in lowered:
        event["cookies"] = [c.strip() for c in lowered["cookie"].split(";")]
    return event


class _Handler(BaseHTTPRequestHandler):
    server: ApiServer
    protocol_version = "HTTP/1.1"
    # The headers and the body go out as two writes: with Nagle's algorithm the body waited for the client's
    # delayed ACK of the headers, 40 ms on every keep-alive answer.
    disable_nagle_algorithm = True
    # A client that stops sending mid-request releases its thread after this long (socket read timeout).
    timeout = READ_TIMEOUT_S

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol errors the base class answers itself (400 bad request line, 414, 431, 501) in JSON too."""
        self.close_connection = True
        # An unparsable request line leaves the base class assuming HTTP/0.9 (no status line, no headers).
        self.request_version = "HTTP/1.1"
        body = json.dumps({"message": message or HTTPStatus(code).phrase}).encode()
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if getattr(self, "command", None) != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering the error (bad or missing length, too large, too slow)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.send_error(411, "Length Required")
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError(length)
        except ValueError:
            self.send_error(400, "Bad Request: invalid Content-Length")
            return None
        if length > MAX_BODY:
            self.send_error(413, "Request Entity Too Large")
            return None
        try:
            body = self.rfile.read(length) if length else b""
        except TimeoutError:
            self.send_error(408, "Request Timeout")
            return None
        if len(body) < length:  # the client closed the connection early: nobody to answer
            self.close_connection = True
            return None
        return body

    def _respond(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self._status = status
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, body: dict[str, Any], extra: dict[str, str] | None = None) -> None:
        self._respond(status, {"Content-Type": "application/json", **(extra or {})}, json.dumps(body).encode())

    def _cors_headers(self) -> dict[str, str]:
        origin = self.headers.get("Origin")
        allowed = self.server.allowed_origins
        if origin and ("*" in allowed or origin in allowed):
            return {"Access-Control-Allow-Origin": "*" if "*" in allowed else origin, "Vary": "Origin"}
        return {}

    def _route(self, method: str, path: str) -> str | None:
        for route in ROUTES:
            if route.method == method and route.path == path:
                return route.function
        return None

    def _static(self, path: str) -> bool:
        relative = "index.html" if path in ("/", "") else path.lstrip("/")
        target = (WEB_ROOT / relative).resolve()
        if not str(target).startswith(str(WEB_ROOT.resolve())) or not target.is_file():
            return False
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        headers = {"Content-Type": content_type, "Cache-Control": "no-cache", **PAGE_SECURITY_HEADERS}
        self._respond(200, headers, target.read_bytes())
        return True

    def _handle(self) -> None:
        path = urlsplit(self.path).path
        method = self.command
        if method == "OPTIONS":
            requested = self.headers.get("Access-Control-Request-Method", "")
            cors = self._cors_headers()
            if cors and self._route(requested, path):
                cors.update(
                    {
                        "Access-Control-Allow-Methods": ",".join(sorted({r.method for r in ROUTES})),
                        "Access-Control-Allow-Headers": ",".join(CORS.api_headers),
                        "Access-Control-Max-Age": str(CORS.max_age_s),
                    }
                )
            self._respond(204, cors, b"")
            return
        function = self._route(method, path)
        if function is None:
            if method in ("GET", "HEAD") and self._static(path):
                return
            self._json(404, {"message": "Not Found"})
            return
        started = time.perf_counter()
        self._claims: dict[str, Any] | None = None
        self._request_id = str(uuid.uuid4())  # the event's too: access lines and function logs correlate
        try:
            self._invoke(method, path, function)
        finally:
            self._access_log(f"{method} {path}", started)

    def _access_log(self, route_key: str, started: float) -> None:
        """One JSON line per API request, with the fields of the deployed stage's access log."""
        if self.server.access_log is None:
            return
        entry = {
            "requestId": self._request_id,
            "sourceIp": self.client_address[0],
            "subject": (self._claims or {}).get("sub"),
            "userAgent": self.headers.get("User-Agent", ""),
            "routeKey": route_key,
            "status": getattr(self, "_status", None),
            "latencyMs": round((time.perf_counter() - started) * 1000),
        }
        self.server.access_log("api-access", json.dumps(entry))

    def _invoke(self, method: str, path: str, function: str) -> None:
        claims = None
        if self.server.issuer is not None:
            # The authorizer runs before the body is read and before any function is invoked.
            claims = self.server.issuer.verify(self.headers.get("Authorization"))
            if claims is None:
                self._json(401, {"message": "Unauthorized"}, {"WWW-Authenticate": "Bearer", **self._cors_headers()})
                self.close_connection = True
                return
        body = self._read_body()
        if body is None:
            return
        event = build_event(
            method, self.path, dict(self.headers.items()), body, f"{method} {path}", self.client_address[0]
        )
        event["requestContext"]["requestId"] = self._request_id
        if claims is not None:
            self._claims = claims
            event["requestContext"]["authorizer"] = authorizer_context(claims)
        try:
            result = self.server.runtime.invoke(function, event)
        except InvocationError as exc:
            status = 503 if exc.kind == "timeout" else 500
            self._json(status, {"message": "Service Unavailable" if status == 503 else "Internal Server Error"})
            return
        self._proxy_result(result)

    def _proxy_result(self, result: Any) -> None:
        if not isinstance(result, dict) or "statusCode" not in result:
            # Payload 2.0: anything else is a 200 JSON body.
            self._json(200, result if isinstance(result, dict) else {"result": result})
            return
        body = result.get("body") or ""
        payload = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name] = ",".join(str(v) for v in values)
        headers.setdefault("Content-Type", "application/json")
        self._respond(int(result["statusCode"]), headers, payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _handle


class ApiServer(BackgroundHTTPServer):
    thread_name = "api-front"

    def __init__(
        self,
        runtime: FunctionRuntime,
        allowed_origins: list[str],
        host: str = "127.0.0.1",
        port: int = 0,
        issuer: LocalIssuer | None = None,
        access_log: Callable[[str, str], None] | None = None,
    ) -> None:
        super().__init__(_Handler, host, port)
        self.runtime = runtime
        self.allowed_origins = allowed_origins
        self.issuer = issuer  # None: an open API
        self.access_log = access_log
