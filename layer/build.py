"""Build the Lambda layer: the core package plus its pinned runtime dependencies, for python3.12 on Lambda.

Wheels are fetched for the target platform with ``pip --platform … --only-binary=:all:`` (no Docker needed).
The zip is deterministic (sorted entries, fixed timestamps and permissions, no bytecode), GPL-licensed
packages are refused and so is anything over Lambda's 250 MB unzipped limit.

    python layer/build.py --arch arm64        # → layer/dist/layer-arm64.zip
"""

from __future__ import annotations

import argparse
import email.parser
import hashlib
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "layer" / "dist"
CORE = ROOT / "layer" / "image_analyzer"
PYTHON_VERSION = "3.12"
# Lambda's python3.12 runs on Amazon Linux 2023 (glibc 2.34): wheels for manylinux_2_28 and older fit
# (onnxruntime publishes only manylinux_2_27/2_28 wheels).
PLATFORMS = {
    "arm64": ("manylinux_2_28_aarch64", "manylinux2014_aarch64"),
    "x86_64": ("manylinux_2_28_x86_64", "manylinux2014_x86_64"),
}
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
# Not what the functions need at run time (the Lambda runtime brings its own boto3 too, but we pin ours).
_EXCLUDED_DIRS = {"__pycache__", "tests"}
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)


# Packages that bundle many codecs of which the core uses a few: only these extension modules are shipped, with
# the bundled libraries they link against. imagecodecs is 140 MB whole; the core needs its 12-bit JPEG decoder.
KEEP_ONLY = {"imagecodecs": ("_shared", "_imcd", "_jpeg8")}


class LayerError(RuntimeError):
    pass


def _named_closure(roots: list[Path], candidates: list[Path], name: Callable[[Path], str]) -> list[Path]:
    """The candidates reached from ``roots``: a candidate is reached when its name appears in the bytes of a root or
    of a candidate already reached (roots that are candidates count as reached)."""
    included, pending = list(roots), list(roots)
    while pending:
        binary = pending.pop().read_bytes()
        for candidate in candidates:
            if candidate not in included and name(candidate).encode() in binary:
                included.append(candidate)
                pending.append(candidate)
    return [path for path in included if path in candidates]


def prune_bundles(site: Path, keep_only: dict[str, tuple[str, ...]] = KEEP_ONLY) -> int:
    """Remove the unused extension modules of ``keep_only``'s packages and the bundled libraries (in
    ``<package>.libs``) that no kept binary names. Returns the bytes removed."""
    removed = 0
    for package, modules in keep_only.items():
        extensions = sorted((site / package).glob("_*.so"))
        roots = [path for path in extensions if path.name.split(".")[0] in modules]
        # …and every extension module a kept one imports (e.g. "imagecodecs._shared_cython").
        kept = _named_closure(roots, extensions, lambda path, package=package: f"{package}.{path.name.split('.')[0]}")
        # A bundled library is needed if a kept binary names it (its DT_NEEDED strings are plain text).
        libraries = sorted((site / f"{package}.libs").glob("*.so*"))
        needed = _named_closure(kept, libraries, lambda path: path.name)
        for path in [*extensions, *libraries]:
            if path not in kept and path not in needed:
                removed += path.stat().st_size
                path.unlink()
    return removed


@dataclass(frozen=True)
class LayerBuild:
    path: Path
    sha256: str
    unzipped_bytes: int
    packages: dict[str, str]  # name → licence text


def runtime_requirements() -> list[str]:
    """The runtime dependencies, read from pyproject.toml (the one list)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"])


def _licence(metadata_path: Path) -> str:
    meta = email.parser.Parser().parsestr(metadata_path.read_text(errors="replace"))
    parts = [
        meta.get("License-Expression") or "",
        (meta.get("License") or "").splitlines()[0] if meta.get("License") else "",
    ]
    parts += [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    return " | ".join(p for p in parts if p)


def is_gpl(licence: str) -> bool:
    """GPL or AGPL (copyleft that would bind the shipped layer); LGPL is not GPL here."""
    text = licence.upper().replace("LESSER GENERAL PUBLIC", "LGPL")
    return (
        "GNU GENERAL PUBLIC" in text
        or "AGPL" in text
        or any(token.strip("()-+,;.").startswith("GPL") for token in text.replace("|", " ").split())
    )


def _deterministic_zip(source: Path, target: Path) -> None:
    files = sorted(
        p
        for p in source.rglob("*")
        if p.is_file() and not (_EXCLUDED_DIRS & set(p.relative_to(source).parts)) and p.suffix != ".pyc"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=_FIXED_DATE)
            executable = path.stat().st_mode & 0o111
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=6)


def build(arch: str = "arm64", output: Path | None = None, requirements: list[str] | None = None) -> LayerBuild:
    if arch not in PLATFORMS:
        raise LayerError(f"architecture must be one of {sorted(PLATFORMS)}, got {arch!r}")
    output = output or DIST / f"layer-{arch}.zip"
    with tempfile.TemporaryDirectory(prefix="layer-") as tmp:
        site = Path(tmp) / "python"  # Lambda adds /opt/python to sys.path
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check",
            *(option for platform in PLATFORMS[arch] for option in ("--platform", platform)),
            "--python-version", PYTHON_VERSION, "--implementation", "cp",
            "--only-binary=:all:", "--target", str(site), *(requirements or runtime_requirements()),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise LayerError(f"pip could not fetch the layer's wheels:\n{result.stderr[-2000:]}")
        packages = {p.name.split("-")[0]: _licence(p / "METADATA") for p in sorted(site.glob("*.dist-info"))}
        copyleft = {name: text for name, text in packages.items() if is_gpl(text)}
        if copyleft:
            raise LayerError(f"GPL-licensed packages cannot be shipped in the layer: {copyleft}")
        prune_bundles(site)
        shutil.copytree(CORE, site / "image_analyzer", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        unzipped = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
        if unzipped > LAMBDA_UNZIPPED_LIMIT:
            raise LayerError(f"the layer is {unzipped / 2**20:.0f} MB unzipped, over Lambda's 250 MB limit")
        _deterministic_zip(Path(tmp), output)
    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    return LayerBuild(output, digest, unzipped, packages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Lambda layer zip.")
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default="arm64")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    try:
        layer = build(args.arch, args.output)
    except LayerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"{layer.path}  {layer.path.stat().st_size / 2**20:.1f} MB zipped, {layer.unzipped_bytes / 2**20:.1f} MB unzipped"
    )
    print(f"sha256 {layer.sha256}  ({len(layer.packages)} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
