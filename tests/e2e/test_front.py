"""The local HTTP front under abuse: slow and lying clients, protocol errors — always a JSON answer, never a hang."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from urllib.parse import urlsplit

import pytest

from local import apigw


def exchange(stack, raw: bytes, timeout_s: float = 15.0) -> tuple[int, dict[str, str], dict]:
    """Send raw bytes, read the whole answer (the server closes the connection after an error)."""
    url = urlsplit(stack.api_url)
    with socket.create_connection((url.hostname, url.port), timeout=timeout_s) as connection:
        connection.sendall(raw)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"POST /request-upload HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
        (b"POST /request-upload HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400),
        (b"POST /request-upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
        (b"POST /request-upload HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"BREW /request-upload HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        (b"GET / HTTP/1.x\r\n\r\n", 400),
        (b"GET / HTTP/9.9\r\n\r\n", 505),
    ],
)
def test_protocol_errors_are_answered_in_json(stack, raw: bytes, status: int) -> None:
    answered, headers, body = exchange(stack, raw)
    assert answered == status
    assert headers["content-type"] == "application/json" and body["message"]


def test_a_client_that_stops_sending_gets_408_after_the_read_timeout(stack, monkeypatch) -> None:
    monkeypatch.setattr(apigw._Handler, "timeout", 0.5)  # the server runs in this process
    raw = b"POST /request-upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    status, _, body = exchange(stack, raw, timeout_s=10)
    assert status == 408 and body["message"] == "Request Timeout"


def test_the_front_still_serves_after_abuse(stack) -> None:
    status, _, body = exchange(stack, b"GET /get-results?jobId=nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 400 and body["error"] == "INVALID_JOB_ID"


CONCURRENT_CLIENTS = 200


def test_two_hundred_clients_at_once_are_all_answered(stack) -> None:
    # A burst of connections arrives before the front accepts any: a listen backlog of 5 (socketserver's default)
    # resets most of them. Each client connects at the same moment (a barrier), then asks for the page.
    url = urlsplit(stack.api_url)
    barrier = threading.Barrier(CONCURRENT_CLIENTS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        barrier.wait()
        try:
            with socket.create_connection((url.hostname, url.port), timeout=60) as connection:
                connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                answer = b""
                while chunk := connection.recv(65536):
                    answer += chunk
            outcome = answer.split(b"\r\n", 1)[0].decode("latin-1")
        except OSError as exc:
            outcome = type(exc).__name__
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=client) for _ in range(CONCURRENT_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = sorted({o for o in outcomes if o != "HTTP/1.1 200 OK"})
    assert len(outcomes) == CONCURRENT_CLIENTS and not failed, (Counter(outcomes), failed)
