"""The pictures text is looked for in: the one served, and one that shows every difference any window could.

``/render`` can draw a frame in any window, down to a width of one stored value: a window is a monotone map of
the modality values, and a width-1 window is a threshold at any level. So text is readable in *some* window when
its strokes differ from the background around them, by however little. The revealing view stretches each
neighbourhood's own range of values to the full grey scale (the neighbourhood's minimum black, its maximum
white, interpolated between blocks so that no seam is drawn): whatever differs from its surroundings is drawn at
full contrast, whatever the file's window, a preset or a custom one would show. What it cannot reveal is a
difference smaller than the neighbourhood's own range by more than the grey scale's 256 steps — text one stored
value off its background right beside an edge hundreds of values high — which no window shows as text either:
at the width that separates the text, the edge saturates its surroundings into the same two levels.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# Side of the blocks whose range is measured, in pixels; each pixel is stretched over its block's and its eight
# neighbours' range (48 px of context, more than the tallest line of burned-in text is high).
BLOCK = 16


def _neighbourhood(grid: np.ndarray, reduce: np.ufunc) -> np.ndarray:
    """``reduce`` (np.minimum or np.maximum) over each block and its eight neighbours."""
    padded = np.pad(grid, 1, mode="edge")
    out = padded[1:-1, 1:-1].copy()
    rows, columns = grid.shape
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            reduce(out, padded[dy : dy + rows, dx : dx + columns], out=out)
    return out


def _upsampled(grid: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """A block grid at pixel resolution, interpolated bilinearly between block centres."""
    image = Image.fromarray(grid.astype(np.float32), mode="F")
    height, width = grid.shape[0] * BLOCK, grid.shape[1] * BLOCK
    return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR))[:rows, :columns]


def local_contrast(values: np.ndarray) -> np.ndarray:
    """One channel (any numeric type) stretched by its local range: uint8 of the same shape."""
    rows, columns = values.shape
    grid_rows, grid_columns = -(-rows // BLOCK), -(-columns // BLOCK)
    work = np.asarray(values, dtype=np.float32)
    padded = np.pad(work, ((0, grid_rows * BLOCK - rows), (0, grid_columns * BLOCK - columns)), mode="edge")
    blocks = padded.reshape(grid_rows, BLOCK, grid_columns, BLOCK)
    low = _upsampled(_neighbourhood(blocks.min(axis=(1, 3)), np.minimum), rows, columns)
    high = _upsampled(_neighbourhood(blocks.max(axis=(1, 3)), np.maximum), rows, columns)
    span = high - low
    out = np.subtract(work, low)
    np.divide(out, span, out=out, where=span > 0)
    out[span <= 0] = 0
    np.clip(out, 0.0, 1.0, out=out)
    out *= 255.0
    return np.rint(out).astype(np.uint8)


# Working arrays per pixel and channel: the float32 values, the interpolated low and high, their span, the result.
BYTES_PER_PIXEL = 5 * 4


def revealing(values: np.ndarray) -> np.ndarray:
    """The revealing view of a frame's modality values (rows × columns) or of a colour picture's channels."""
    from image_analyzer import budget

    budget.require(values.shape[0] * values.shape[1] * BYTES_PER_PIXEL, "Looking for text in the picture")
    if values.ndim == 2:
        return local_contrast(values)
    return np.stack([local_contrast(values[..., channel]) for channel in range(min(3, values.shape[2]))], axis=2)
