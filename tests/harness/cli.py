"""The command-line client as a user runs it: a bare shell, a subprocess, the containers it leaves behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from local.emulators.containers import OWNER_LABEL, docker_unavailable_reason


def cli_environment(**extra: str) -> dict[str, str]:
    """A user's bare shell: no AWS settings; PATH kept so that docker is found as the user would find it."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "COLUMNS": "200", "TERM": "dumb", **extra}


def interruptible() -> None:
    """A child's SIGINT as a terminal's Ctrl-C gives it: a shell starting a non-interactive job in the background
    (`bash .ci/run &`) has it ignored, and children inherit that, so a test's SIGINT would go unheard."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env=cli_environment(**env),
    )


def start_cli(*args: str, cwd: Path, **env: str) -> subprocess.Popen[str]:
    """The command running in the background (``up``, a long ``analyze``), its output on one pipe, interruptible
    with SIGINT as from a terminal."""
    return subprocess.Popen(
        [sys.executable, "-m", "local.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=interruptible,
        cwd=cwd,
        env=cli_environment(**env),
    )


def owned_containers(pid: int) -> list[str]:
    """LocalStack containers still labelled with process ``pid`` as their owner."""
    if docker_unavailable_reason():
        return []
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={OWNER_LABEL}={pid}"], capture_output=True, text=True, timeout=30
    )
    return listed.stdout.split()
