"""The fast PNG writer is lossless: every render decodes back to exactly its pixels (greyscale and colour)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from image_analyzer import png


def decoded(data: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(data))
    image.load()  # checks every chunk's CRC and the zlib stream's checksum
    return np.asarray(image)


@pytest.mark.parametrize("shape", [(1, 1), (1, 977), (977, 1), (64, 64), (1955, 1841), (3000, 2500)])
def test_greyscale_round_trip(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    # Smooth areas and noise: both the Up filter's wrap-around and the Huffman coder are exercised.
    pixels = (np.add.outer(np.arange(shape[0]), np.arange(shape[1])) % 256).astype(np.uint8)
    pixels[::7] = rng.integers(0, 256, size=pixels[::7].shape, dtype=np.uint8)
    assert np.array_equal(decoded(png.encode(pixels)), pixels)


@pytest.mark.parametrize("shape", [(1, 1, 3), (33, 17, 3), (1200, 900, 3)])
def test_colour_round_trip(shape: tuple[int, int, int]) -> None:
    pixels = np.random.default_rng(7).integers(0, 256, size=shape, dtype=np.uint8)
    image = decoded(png.encode(pixels))
    assert image.shape == shape and np.array_equal(image, pixels)


def test_large_images_are_split_into_parts_and_stay_one_valid_stream(monkeypatch) -> None:
    monkeypatch.setattr(png, "_workers", lambda: 4)
    monkeypatch.setattr(png, "_POOL", None)
    pixels = np.random.default_rng(3).integers(0, 40, size=(2048, 2048), dtype=np.uint8)
    assert len(pixels.tobytes()) // png._MIN_PART_BYTES >= 4
    assert np.array_equal(decoded(png.encode(pixels)), pixels)


@pytest.mark.parametrize("pixels", [np.zeros((4, 4), np.uint16), np.zeros((4, 4, 4), np.uint8), np.zeros(16, np.uint8)])
def test_refuses_what_it_cannot_write(pixels: np.ndarray) -> None:
    with pytest.raises(ValueError):
        png.encode(pixels)


def test_a_forked_child_encodes_without_the_parents_threads() -> None:
    """A child inherits the parent's pool object but none of its threads: it must make its own, not wait forever."""
    import os
    import select

    pixels = np.random.default_rng(1).integers(0, 40, size=(2048, 2048), dtype=np.uint8)
    png.encode(pixels)  # the parent's pool now exists
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        ok = np.array_equal(decoded(png.encode(pixels)), pixels)
        os.write(write_fd, b"ok" if ok else b"wrong")
        os._exit(0)
    os.close(write_fd)
    ready, _, _ = select.select([read_fd], [], [], 60)
    if not ready:
        os.kill(pid, 9)
    os.waitpid(pid, 0)
    answer = os.read(read_fd, 10) if ready else b"hung"
    os.close(read_fd)
    assert answer == b"ok"
