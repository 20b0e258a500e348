"""Test helpers: DICOM files with text burned into their pixels, as scanners and consoles burn it, and an
independent reader (Tesseract, not the model of the local DetectText) to tell whether it can still be read."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

TESSERACT = shutil.which("tesseract")


@dataclass(frozen=True)
class Canary:
    name: str
    data: bytes
    tokens: tuple[str, ...]  # what must not be readable once redacted
    greyscale: bool


def _text_mask(shape: tuple[int, int], lines: list[str], size: int, corner: tuple[int, int]) -> np.ndarray:
    canvas = Image.new("L", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=size)
    x, y = corner
    for line in lines:
        draw.text((x, y), line, fill=255, font=font)
        y += int(size * 1.4)
    return np.asarray(canvas) > 127


def _anatomy(shape: tuple[int, int], seed: int, high: int) -> np.ndarray:
    """Something that looks like an image: a bright ellipse over a noisy gradient."""
    rng = np.random.default_rng(seed)
    rows, columns = shape
    y, x = np.mgrid[0:rows, 0:columns]
    inside = ((x - columns * 0.55) / (columns * 0.3)) ** 2 + ((y - rows * 0.6) / (rows * 0.3)) ** 2 < 1
    values = 0.15 * high * (x / columns) + rng.normal(0, 0.02 * high, shape) + inside * 0.45 * high
    return np.clip(values, 0, high)


def secondary_capture(
    modality: str, photometric: str, shape: tuple[int, int], bits: int, samples: int = 1
) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("canary.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID, ds.Modality = "Anonymous", "ID0", modality
    ds.Rows, ds.Columns = shape
    ds.SamplesPerPixel = samples
    if samples == 3:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 8 if bits <= 8 else 16
    ds.BitsStored, ds.HighBit = bits, bits - 1
    ds.PixelRepresentation = 0
    return ds


def encoded(ds: FileDataset) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def annotated_cr(shape: tuple[int, int], lines: list[str], text_size: int) -> bytes:
    """A 12-bit MONOCHROME2 CR with ``lines`` burned in white at its top-left corner, in its own window."""
    cr = _anatomy(shape, 3, 4095).astype(np.uint16)
    cr[_text_mask(shape, lines, text_size, (text_size, text_size))] = 4095
    ds = secondary_capture("CR", "MONOCHROME2", shape, 12)
    ds.WindowCenter, ds.WindowWidth = 1800, 3000
    ds.PixelData = cr.tobytes()
    return encoded(ds)


def canaries() -> list[Canary]:
    """Several modalities, bit depths, photometric interpretations, text sizes and colours, and a multi-frame
    file with the text on every frame. Every token is a made-up identifier."""
    out: list[Canary] = []

    shape = (480, 640)
    lines = ["QUINTERO MARISOL", "MRN 58213907", "DOB 1962-03-14"]
    rgb = np.stack([_anatomy(shape, 1, 200)] * 3, axis=-1).astype(np.uint8)
    rgb[_text_mask(shape, lines, 20, (16, 14))] = (255, 255, 160)  # yellowish annotation, as consoles draw it
    ds = secondary_capture("US", "RGB", shape, 8, samples=3)
    ds.PixelData = rgb.tobytes()
    out.append(Canary("us_rgb.dcm", encoded(ds), ("QUINTERO", "MARISOL", "58213907"), greyscale=False))

    secondary = _anatomy((512, 512), 2, 180).astype(np.uint8)
    secondary[_text_mask((512, 512), ["HALVORSEN BIRGIT", "ID 77410356"], 18, (16, 440))] = 250
    ds = secondary_capture("OT", "MONOCHROME2", (512, 512), 8)
    ds.PixelData = secondary.tobytes()
    out.append(Canary("sc_8bit.dcm", encoded(ds), ("HALVORSEN", "77410356"), greyscale=True))

    lines = ["OKONKWO CHIDI", "ACC 90311842"]
    out.append(Canary("cr_12bit.dcm", annotated_cr((900, 760), lines, 30), ("OKONKWO", "90311842"), greyscale=True))

    cr1 = (4095 - _anatomy((800, 700), 4, 4095)).astype(np.uint16)
    cr1[_text_mask((800, 700), ["LINDQVIST ASTRID", "MRN 33097215"], 26, (380, 720))] = 0  # shown white
    ds = secondary_capture("CR", "MONOCHROME1", (800, 700), 12)
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    ds.PixelData = cr1.tobytes()
    out.append(Canary("cr_monochrome1.dcm", encoded(ds), ("LINDQVIST", "33097215"), greyscale=True))

    # Pixels twice as tall as wide (PixelSpacing 0.2\0.1): the text is drawn as it is seen, on square pixels, and
    # stored on every other row; served, the picture is scaled back to square pixels (and the fill with it).
    seen = _text_mask((900, 760), ["VASQUEZ RENATA", "MRN 40917263"], 30, (30, 30))
    tall = _anatomy((450, 760), 5, 4095).astype(np.uint16)
    tall[seen[::2]] = 4095
    ds = secondary_capture("CR", "MONOCHROME2", (450, 760), 12)
    ds.WindowCenter, ds.WindowWidth, ds.PixelSpacing = 1800, 3000, [0.2, 0.1]
    ds.PixelData = tall.tobytes()
    out.append(Canary("cr_tall_pixels.dcm", encoded(ds), ("VASQUEZ", "40917263"), greyscale=True))

    frames = []
    for frame in range(5):
        us = _anatomy((420, 560), 10 + frame, 160).astype(np.uint8)
        us[_text_mask((420, 560), ["BRANDAO TIAGO", "ID 61728394"], 22, (300, 16))] = 250
        frames.append(us)
    ds = secondary_capture("US", "MONOCHROME2", (420, 560), 8)
    ds.NumberOfFrames = len(frames)
    ds.PixelData = np.stack(frames).tobytes()
    out.append(Canary("us_multiframe.dcm", encoded(ds), ("BRANDAO", "61728394"), greyscale=True))
    return out


def _tesseract(png: bytes, *options: str) -> str:
    """Tesseract's output on an image upscaled twice (as it prefers), sparse text (``--psm 11``)."""
    assert TESSERACT is not None
    image = Image.open(io.BytesIO(png)).convert("L")
    image = image.resize((image.width * 2, image.height * 2), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    command = [TESSERACT, "stdin", "stdout", "--psm", "11", *options]
    return subprocess.run(command, input=buffer.getvalue(), capture_output=True, check=True).stdout.decode(
        errors="replace"
    )


def read_text(png: bytes) -> str:
    """What Tesseract reads in an image, normalised to upper-case letters, digits and single spaces."""
    return " ".join(re.sub(r"[^A-Z0-9]+", " ", _tesseract(png).upper()).split())


def confident_words(png: bytes, min_confidence: float = 70, min_length: int = 3) -> set[str]:
    """The words Tesseract reads with at least ``min_confidence`` (upper-case letters and digits, at least
    ``min_length`` of them)."""
    words = set()
    for row in _tesseract(png, "tsv").splitlines()[1:]:
        parts = row.split("\t")
        if len(parts) == 12 and parts[10] not in ("-1", "") and float(parts[10]) >= min_confidence:
            word = re.sub(r"[^A-Z0-9]", "", parts[11].upper())
            if len(word) >= min_length:
                words.add(word)
    return words


def readable(png: bytes, tokens: tuple[str, ...]) -> list[str]:
    text = read_text(png)
    return [token for token in tokens if token in text]
