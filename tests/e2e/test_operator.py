"""`image-analyzer up` as an operator runs it: no orphan processes, and a dead emulator stops the stack loudly."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from local.emulators import BACKEND_ENV
from tests.harness.cli import owned_containers, start_cli
from tests.harness.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.add(child)
            pending.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


def start_up(backend: str, tmp_path: Path) -> subprocess.Popen[str]:
    return start_cli("up", "--port", "0", "--log-file", str(tmp_path / "f.log"), cwd=ROOT, **{BACKEND_ENV: backend})


def read_until(process: subprocess.Popen[str], marker: str) -> list[str]:
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"up ended without printing {marker!r}: {''.join(lines)}")


def kill_emulator(backend: str, up_pid: int, processes: set[int]) -> None:
    if backend == "localstack":
        subprocess.run(["docker", "kill", *owned_containers(up_pid)], check=True, capture_output=True, timeout=60)
        return
    (emulator,) = [p for p in processes if b"local.emulators.moto_server" in Path(f"/proc/{p}/cmdline").read_bytes()]
    os.kill(emulator, signal.SIGKILL)


def test_a_dead_emulator_stops_up_with_a_clear_error_and_no_orphans(backend, tmp_path) -> None:
    process = start_up(backend, tmp_path)
    try:
        read_until(process, "Ctrl-C to stop")
        children = descendants(process.pid)
        assert len(children) >= 4, "workers, label service (and moto) run as children"
        kill_emulator(backend, process.pid, children)
        rest = process.communicate(timeout=60)[0]
        assert process.returncode == 1
        assert "stopped unexpectedly" in rest and "lost" in rest
        wait_until(lambda: not alive(children), 15, "every child to exit")
        assert owned_containers(process.pid) == []
        log = (tmp_path / "f.log").read_text()
        assert log.count("poller error") <= 8, "a dead emulator must not flood the log"
    finally:
        if process.poll() is None:
            process.kill()


def test_ctrl_c_during_start_leaves_no_process_behind(backend, tmp_path) -> None:
    process = start_up(backend, tmp_path)
    try:
        # Interrupt as soon as the first service has been spawned, while the rest are still starting.
        spawned = wait_until(lambda: descendants(process.pid), 30, "the first child process")
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
        assert process.returncode in (130, 0, 1)
        wait_until(lambda: not alive(spawned | descendants(process.pid)), 15, "every child to exit")
        assert owned_containers(process.pid) == []
    finally:
        if process.poll() is None:
            process.kill()


def test_children_exit_when_up_is_killed_with_sigkill(backend, tmp_path) -> None:
    process = start_up(backend, tmp_path)
    try:
        read_until(process, "Ctrl-C to stop")
        children = descendants(process.pid)
        process.kill()  # no handler runs: only the children's own watch on their parent can stop them
        process.wait(timeout=10)
        wait_until(lambda: not alive(children), 15, "every child to notice its parent is gone")
        if backend == "localstack":
            # The container is not a child: the next start removes it as an orphan.
            from local.emulators.containers import remove_orphaned_containers

            assert remove_orphaned_containers() != [] or owned_containers(process.pid) == []
            assert owned_containers(process.pid) == []
    finally:
        if process.poll() is None:
            process.kill()
