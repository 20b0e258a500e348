"""Building blocks of the local stack's services: an HTTP server on a background thread, and a child process
that announces ``READY <url>`` on stdout once it serves."""

from __future__ import annotations

import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class BackgroundHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    thread_name = "http-server"
    # socketserver's listen backlog is 5: a burst of clients (a page's parallel uploads, a batch run) overflows it
    # before the accept loop catches up. The kernel caps this at net.core.somaxconn.
    request_queue_size = 1024

    def __init__(self, handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        threading.Thread(target=self.serve_forever, name=self.thread_name, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class ChildService:
    """A service in a child process; ``await_ready`` blocks until it printed ``READY <url>``.

    The child is spawned at once and waited for later, so that several start-ups overlap."""

    description = "child service"

    def __init__(self, command: list[str], stop_by_closing_stdin: bool = False) -> None:
        self._stop_by_closing_stdin = stop_by_closing_stdin
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE if stop_by_closing_stdin else None, stdout=subprocess.PIPE, text=True
        )
        self._ready = False

    @property
    def pid(self) -> int:
        return self._process.pid

    def alive(self) -> bool:
        return self._process.poll() is None

    def await_ready(self) -> None:
        if self._ready:
            return
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.startswith("READY "):
            self._process.kill()
            raise RuntimeError(f"the {self.description} did not start: {line or 'no output'}")
        self._ready = True

    def stop(self) -> None:
        if self._stop_by_closing_stdin and self._process.stdin is not None:
            self._process.stdin.close()  # the child also stops this way if the parent dies
        else:
            self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5)


def exit_with_parent(poll_seconds: float = 0.5) -> None:
    """In a child service: exit as soon as the process that started it is gone (killed with -9, crashed), so
    that no service outlives its stack. (PR_SET_PDEATHSIG would fire when the spawning *thread* ends.)"""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(poll_seconds)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
