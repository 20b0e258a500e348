"""The moto backend: moto's threaded server, in a child process of its own (or in this one)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from local.emulators.base import LOOPBACK, BackendUnavailable, free_port
from local.services import ChildService, exit_with_parent


class MotoBackend:
    """moto's ThreadedMotoServer. By default in a child process of its own, so that the emulator does not share
    one interpreter lock with the HTTP front, the poller and the caller (about 1.6× the throughput on 2 cores);
    ``in_process=True`` runs it in this process, as the unit tests' mock does."""

    name = "moto"

    def __init__(self, host: str = LOOPBACK, port: int = 0, in_process: bool = False, wait: bool = True) -> None:
        self._host = host
        self._server: Any = None
        self._child: ChildService | None = None
        if in_process:
            self._server = _threaded_moto(host, port)
            bound_host, bound_port = self._server.get_host_and_port()
            self.endpoint_url = f"http://{bound_host}:{bound_port}"
            return
        port = port or free_port(host)  # known now, so that others can be configured while moto starts
        self.endpoint_url = f"http://{host}:{port}"
        command = [sys.executable, "-m", "local.emulators.moto_server", "--host", host, "--port", str(port)]
        self._child = ChildService(command, stop_by_closing_stdin=True)
        self._child.description = "moto server"
        if wait:
            self.await_ready()

    def await_ready(self) -> None:
        if self._child is not None:
            try:
                self._child.await_ready()
            except RuntimeError as exc:
                raise BackendUnavailable(str(exc)) from exc

    def alive(self) -> bool:
        return self._child.alive() if self._child is not None else True

    def listening_addresses(self) -> list[str]:
        return [self._host]

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._child is not None:
            self._child.stop()


def _threaded_moto(host: str, port: int) -> Any:
    # moto's server answers every origin's CORS requests (preflights included) unless told not to: any web page the
    # developer opens could list the bucket and scan the table. Without it, S3 applies each bucket's own CORS rules
    # and nothing else answers a browser from another origin. Read when moto is first imported.
    os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "true"
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    return server


def main(argv: list[str] | None = None) -> int:
    """Child-process entry of the moto backend: serve until stdin closes."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = _threaded_moto(args.host, args.port)
    exit_with_parent()
    host, port = server.get_host_and_port()
    print(f"READY http://{host}:{port}", flush=True)
    sys.stdin.read()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
