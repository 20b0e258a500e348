"""Docker, as the LocalStack backend needs it: is an engine there, and which containers did a dead process leave."""

from __future__ import annotations

import os
import shutil
import subprocess


def docker_unavailable_reason() -> str | None:
    """None when a Docker engine answers, else why not."""
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    try:
        probe = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker did not answer: {exc}"
    if probe.returncode != 0:
        return "no Docker engine is running (docker info failed)"
    return None


OWNER_LABEL = "org.image-analyzer.owner-pid"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphaned_containers() -> list[str]:
    """Remove LocalStack containers whose owning process died without stopping them (kill -9, a crash). Needed
    because testcontainers' own reaper (Ryuk) is an image that cannot be pulled offline."""
    listed = subprocess.run(
        [
            "docker",
            "ps",
            "-a",
            "--filter",
            f"label={OWNER_LABEL}",
            "--format",
            f'{{{{.ID}}}} {{{{.Label "{OWNER_LABEL}"}}}}',
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    orphans = []
    for line in listed.stdout.splitlines():
        container_id, _, owner = line.partition(" ")
        if owner.isdigit() and not _pid_alive(int(owner)):
            orphans.append(container_id)
    if orphans:
        subprocess.run(["docker", "rm", "-f", *orphans], capture_output=True, timeout=60)
    return orphans
