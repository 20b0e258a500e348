"""Test helpers: an attacker's corpus of DICOM files with text burned in, each with the exact box of every line.

Families: fonts and sizes, contrast down to one stored value, inverted, one colour channel only, edges and
corners, rotation, text the file's window hides, multi-frame, small text on big pictures. Every name, ID and date
is made up. A line's box is the bounding box of its ink (what must be covered).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tests.harness.canaries import encoded, secondary_capture

_FONT_FILES = {
    "pillow": None,  # Pillow's own scalable font
    "dejavu-sans": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "dejavu-serif": "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "dejavu-mono-bold": "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
}
FONTS = tuple(name for name, path in _FONT_FILES.items() if path is None or Path(path).exists())
MISSING_FONTS = tuple(name for name in _FONT_FILES if name not in FONTS)
SIZES = (8, 10, 12, 14, 16, 20, 24, 28, 32, 40)

_SURNAMES = ("QUINTERO", "HALVORSEN", "OKONKWO", "LINDQVIST", "BRANDAO", "NAKAMURA", "ABERNATHY", "KOWALCZYK")
_GIVEN = ("MARISOL", "BIRGIT", "CHIDI", "ASTRID", "TIAGO", "HIROSHI", "EVELYN", "ZOFIA")


@dataclass(frozen=True)
class TextCase:
    family: str
    name: str
    data: bytes  # a DICOM file
    lines: tuple[tuple[int, int, int, int], ...]  # (top, bottom, left, right) of each line's ink, in pixels
    tokens: tuple[str, ...]  # what a reader must not find once it is redacted


def font(name: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = _FONT_FILES[name]
    return ImageFont.load_default(size=size) if path is None else ImageFont.truetype(path, size)


def identifier(seed: int) -> list[str]:
    """Two lines of made-up PHI: a name, an ID or a date."""
    rng = np.random.default_rng(seed)
    name = f"{_SURNAMES[rng.integers(len(_SURNAMES))]}^{_GIVEN[rng.integers(len(_GIVEN))]}"
    second = (
        f"MRN {rng.integers(10_000_000, 99_999_999)}",
        f"DOB {rng.integers(1930, 2020)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}",
        f"ACC A{rng.integers(100_000, 999_999)}",
        f"{rng.integers(1, 29):02d}-MAY-{rng.integers(0, 99):02d} {rng.integers(0, 24):02d}:{rng.integers(0, 60):02d}",
    )[seed % 4]
    return [name, second]


def ink(shape: tuple[int, int], lines: list[str], face: str, size: int, corner: tuple[int, int], turns: int = 0):
    """(mask of the ink, boxes of each line) for ``lines`` drawn at ``corner`` and turned ``turns`` quarter turns
    counter-clockwise with the picture (``shape`` is the upright canvas)."""
    canvas_shape = shape
    boxes, masks = [], []
    x, y = corner
    for line in lines:
        canvas = Image.new("L", (canvas_shape[1], canvas_shape[0]), 0)
        ImageDraw.Draw(canvas).text((x, y), line, fill=255, font=font(face, size))
        mask = np.rot90(np.asarray(canvas) > 96, turns)
        if mask.any():
            rows, columns = np.nonzero(mask)
            boxes.append((int(rows.min()), int(rows.max()) + 1, int(columns.min()), int(columns.max()) + 1))
            masks.append(mask)
        y += int(size * 1.5)
    return np.logical_or.reduce(masks), tuple(boxes)


def _background(shape: tuple[int, int], seed: int, low: float, high: float, noise: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows, columns = shape
    y, x = np.mgrid[0:rows, 0:columns]
    inside = ((x - columns * 0.55) / (columns * 0.28)) ** 2 + ((y - rows * 0.55) / (rows * 0.3)) ** 2 < 1
    values = low + (high - low) * (0.5 * inside + 0.1 * x / columns) + rng.normal(0, noise * (high - low), shape)
    return values


def _greyscale(values: np.ndarray, bits: int, modality: str = "OT", photometric: str = "MONOCHROME2", **attrs):
    ds = secondary_capture(modality, photometric, values.shape[-2:], bits)
    for key, value in attrs.items():
        setattr(ds, key, value)
    if values.ndim == 3:
        ds.NumberOfFrames = values.shape[0]
    dtype = np.uint8 if bits <= 8 else (np.int16 if attrs.get("PixelRepresentation") else np.uint16)
    ds.PixelData = np.asarray(values).astype(dtype).tobytes()
    return encoded(ds)


def _ct(values: np.ndarray, window: tuple[int, int] = (40, 400)) -> bytes:
    """A CT slice in HU (stored = HU + 1024, 12 bits), in the soft-tissue window."""
    stored = np.clip(np.rint(values) + 1024, 0, 4095)
    return _greyscale(
        stored, 12, "CT", RescaleSlope=1, RescaleIntercept=-1024, WindowCenter=window[0], WindowWidth=window[1]
    )


def _sized(family: str, seed: int, face: str, size: int) -> TextCase:
    shape = (384, 512)
    lines = identifier(seed)
    mask, boxes = ink(shape, lines, face, size, (12, 10 + (seed % 3) * 90))
    pixels = np.clip(_background(shape, seed, 10, 160), 0, 255)
    pixels[mask] = 235
    return TextCase(family, f"{face}-{size}px-{seed}", _greyscale(pixels, 8), boxes, tuple(lines[0].split("^")))


def fonts_and_sizes() -> list[TextCase]:
    return [_sized("fonts and sizes", s, face, size) for face in FONTS for size in SIZES for s in range(5)]


def contrast() -> list[TextCase]:
    """CT text only ``delta`` HU off a flat background, shown in the file's soft-tissue window (or not at all)."""
    out = []
    seed = 100
    for background in (-1000, 0, 776, 3000):
        for delta in (1, 2, 5, 20, 100, 1000):
            for size in (10, 16):
                seed += 1
                shape = (256, 320)
                lines = identifier(seed)
                values = np.full(shape, float(background))
                values[_corner_disc(shape)] = background + 40  # something of the picture besides the text
                mask, boxes = ink(shape, lines, FONTS[seed % len(FONTS)], size, (10, 12))
                values[mask] = background + delta
                name = f"HU{background}+{delta}-{size}px"
                out.append(TextCase("contrast", name, _ct(values), boxes, tuple(lines[0].split("^"))))
    return out


def _corner_disc(shape: tuple[int, int]) -> np.ndarray:
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    return (x - shape[1] * 0.7) ** 2 + (y - shape[0] * 0.7) ** 2 < (min(shape) * 0.2) ** 2


def inverted() -> list[TextCase]:
    """Dark text on bright ground, in MONOCHROME2 and in MONOCHROME1 (where low stored values are white)."""
    out = []
    for index, (face, size) in enumerate((f, s) for f in FONTS for s in SIZES):
        seed = 200 + index
        shape = (300, 400)
        lines = identifier(seed)
        mask, boxes = ink(shape, lines, face, size, (14, 16))
        monochrome1 = index % 2 == 1
        pixels = np.clip(_background(shape, seed, 3000, 4000, 0.02), 0, 4095)
        pixels[mask] = 600
        photometric = "MONOCHROME2"
        if monochrome1:  # shown inverted: the bright ground is stored low
            pixels, photometric = 4095 - pixels, "MONOCHROME1"
        data = _greyscale(pixels, 12, "CR", photometric, WindowCenter=2048, WindowWidth=4096)
        out.append(TextCase("inverted", f"{photometric}-{face}-{size}px", data, boxes, tuple(lines[0].split("^"))))
    return out


def colour_channels() -> list[TextCase]:
    """RGB ultrasound-like pictures whose text differs from the ground in one channel only."""
    out = []
    seed = 300
    for channel in range(3):
        for delta in (12, 40, 120):
            for size in (10, 16, 24):
                for ground in (30, 110):
                    seed += 1
                    shape = (240, 320)
                    lines = identifier(seed)
                    grey = np.clip(_background(shape, seed, ground, ground + 60, 0.02), 0, 255)
                    rgb = np.stack([grey] * 3, axis=-1)
                    mask, boxes = ink(shape, lines, FONTS[seed % len(FONTS)], size, (8, 8))
                    rgb[mask, channel] = np.clip(ground + delta + 60, 0, 255)
                    ds = secondary_capture("US", "RGB", shape, 8, samples=3)
                    ds.PixelData = rgb.astype(np.uint8).tobytes()
                    name = f"{'RGB'[channel]}+{delta}-on-{ground}-{size}px"
                    out.append(TextCase("colour channels", name, encoded(ds), boxes, tuple(lines[0].split("^"))))
    return out


def edges_and_corners() -> list[TextCase]:
    """Text touching the picture's edges and corners (a tile's seam or the border cuts into it)."""
    out = []
    shape = (320, 420)
    seed = 400
    for size in (8, 12, 20):
        for face in FONTS[:2]:
            for where in ("top-left", "top-right", "bottom-left", "bottom-right", "top", "bottom", "left", "right"):
                seed += 1
                lines = identifier(seed)
                probe, _ = ink(shape, lines, face, size, (0, 0))
                rows, columns = np.nonzero(probe)
                height, width = int(rows.max()) + 1, int(columns.max()) + 1
                x = {"left": 0, "right": shape[1] - width}.get(where.split("-")[-1], (shape[1] - width) // 2)
                y = {"top": 0, "bottom": shape[0] - height}.get(where.split("-")[0], (shape[0] - height) // 2)
                mask, boxes = ink(shape, lines, face, size, (x - int(columns.min()) + 0, y - int(rows.min())))
                pixels = np.clip(_background(shape, seed, 20, 150), 0, 255)
                pixels[mask] = 240
                name = f"{where}-{face}-{size}px"
                out.append(
                    TextCase("edges and corners", name, _greyscale(pixels, 8), boxes, tuple(lines[0].split("^")))
                )
    return out


def rotation() -> list[TextCase]:
    """Text at 0°, 90°, 180° and 270°."""
    out = []
    seed = 500
    for turns in range(4):
        for size in (8, 10, 12, 16, 24, 40):
            for face in FONTS[:2]:
                seed += 1
                upright = (300, 460)
                lines = identifier(seed)
                mask, boxes = ink(upright, lines, face, size, (10, 14), turns)
                pixels = np.clip(_background(mask.shape, seed, 20, 150), 0, 255)
                pixels[mask] = 240
                name = f"{90 * turns}deg-{face}-{size}px"
                out.append(TextCase("rotation", name, _greyscale(pixels, 8), boxes, tuple(lines[0].split("^"))))
    return out


def hidden_by_window() -> list[TextCase]:
    """CT text the file's own soft-tissue window (40/400) shows as flat white or black: bone, lung, air."""
    out = []
    seed = 600
    for text_hu, ground_hu in ((1776, 776), (-900, -1000), (3000, 2000), (-1024, -600), (700, 1500), (-500, -700)):
        for size in (10, 14, 20):
            for face in FONTS[:2]:
                seed += 1
                shape = (280, 360)
                lines = identifier(seed)
                values = _background(shape, seed, -100, 100, 0.02)
                band = np.zeros(shape, dtype=bool)
                band[: size * 4 + 20, :] = True  # the annotation band, at the ground's value
                values[band] = ground_hu
                mask, boxes = ink(shape, lines, face, size, (10, 10))
                values[mask] = text_hu
                name = f"{text_hu}-on-{ground_hu}HU-{face}-{size}px"
                out.append(TextCase("hidden by the window", name, _ct(values), boxes, tuple(lines[0].split("^"))))
    return out


def multi_frame() -> list[TextCase]:
    """Three-frame files: the rendered (middle) frame carries text where the others do not."""
    out = []
    seed = 700
    for size in (10, 14, 20, 28):
        for face in FONTS[:3]:
            for position in ((10, 10), (200, 300)):
                seed += 1
                shape = (360, 480)
                lines = identifier(seed)
                frames = np.stack([np.clip(_background(shape, seed + f, 20, 150), 0, 255) for f in range(3)])
                mask, boxes = ink(shape, lines, face, size, position)
                frames[1][mask] = 240
                name = f"frame2-{face}-{size}px-{position[0]}"
                out.append(
                    TextCase("multi-frame", name, _greyscale(frames, 8, "US"), boxes, tuple(lines[0].split("^")))
                )
    return out


def big_pictures() -> list[TextCase]:
    """Small text on big pictures: 13 px on 3000², 12 px on 2048², 8 px on a 3.6 MP radiograph."""
    out = []
    for shape, size, seed in (((3000, 3000), 13, 801), ((2048, 2048), 12, 802), ((1955, 1841), 8, 803)):
        lines = identifier(seed)
        values = np.clip(_background(shape, seed, 200, 3500, 0.01), 0, 4095)
        mask, boxes = ink(shape, lines, FONTS[0], size, (shape[1] - 300, shape[0] - 80))
        values[mask] = 4095
        data = _greyscale(values, 12, "CR", WindowCenter=2048, WindowWidth=4096)
        out.append(TextCase("big pictures", f"{shape[0]}x{shape[1]}-{size}px", data, boxes, tuple(lines[0].split("^"))))
    return out


FAMILIES = (
    fonts_and_sizes, contrast, inverted, colour_channels, edges_and_corners, rotation, hidden_by_window, multi_frame,
    big_pictures,
)  # fmt: skip


def corpus() -> list[TextCase]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [case for family in FAMILIES for case in family()]


def coverage(mask: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """The share of a line's box that ``mask`` fills."""
    top, bottom, left, right = box
    return float(mask[top:bottom, left:right].mean())


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
