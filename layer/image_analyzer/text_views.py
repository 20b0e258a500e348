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

# Side of the blocks whose range is measured, in pixels; each pixel is stretched over its block's and its eight
# neighbours' range (48 px of context, more than the tallest line of burned-in text is high).
BLOCK = 16
# Blocks per strip of rows that is worked on at once.
STRIP_BLOCKS = 16


def _neighbourhood(grid: np.ndarray, reduce: np.ufunc) -> np.ndarray:
    """``reduce`` (np.minimum or np.maximum) over each block and its eight neighbours."""
    padded = np.pad(grid, 1, mode="edge")
    out = padded[1:-1, 1:-1].copy()
    rows, columns = grid.shape
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            reduce(out, padded[dy : dy + rows, dx : dx + columns], out=out)
    return out


def _block_extremes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each BLOCK × BLOCK block's minimum and maximum, computed a strip of blocks at a time (a full-size float
    copy of a 9 MP frame is 36 MB; a strip is a few)."""
    rows, columns = values.shape
    grid_rows, grid_columns = -(-rows // BLOCK), -(-columns // BLOCK)
    low = np.empty((grid_rows, grid_columns), dtype=np.float32)
    high = np.empty_like(low)
    for first in range(0, grid_rows, STRIP_BLOCKS):
        last = min(grid_rows, first + STRIP_BLOCKS)
        strip = np.asarray(values[first * BLOCK : last * BLOCK], dtype=np.float32)
        padding = ((0, (last - first) * BLOCK - strip.shape[0]), (0, grid_columns * BLOCK - columns))
        blocks = np.pad(strip, padding, mode="edge").reshape(last - first, BLOCK, grid_columns, BLOCK)
        low[first:last] = blocks.min(axis=(1, 3))
        high[first:last] = blocks.max(axis=(1, 3))
    return low, high


def _weights(size: int, cells: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear interpolation between block centres along one axis: for each pixel, the two blocks and the
    second one's weight (clamped at the picture's edges)."""
    position = np.clip((np.arange(size) + 0.5) / BLOCK - 0.5, 0, cells - 1)
    first = np.floor(position).astype(np.intp)
    return first, np.minimum(first + 1, cells - 1), (position - first).astype(np.float32)


def local_contrast(values: np.ndarray) -> np.ndarray:
    """One channel (any numeric type) stretched by its local range: uint8 of the same shape, computed in strips
    of rows (only the block grids are whole)."""
    rows, columns = values.shape
    low_grid, high_grid = _block_extremes(values)
    low_grid, high_grid = _neighbourhood(low_grid, np.minimum), _neighbourhood(high_grid, np.maximum)
    left, right, across = _weights(columns, low_grid.shape[1])
    low_columns = low_grid[:, left] * (1 - across) + low_grid[:, right] * across  # grid rows × columns
    high_columns = high_grid[:, left] * (1 - across) + high_grid[:, right] * across
    top, bottom, down = _weights(rows, low_grid.shape[0])
    out = np.empty((rows, columns), dtype=np.uint8)
    for start in range(0, rows, STRIP_BLOCKS * BLOCK):
        end = min(rows, start + STRIP_BLOCKS * BLOCK)
        weight = down[start:end, None]
        low = low_columns[top[start:end]] * (1 - weight) + low_columns[bottom[start:end]] * weight
        high = high_columns[top[start:end]] * (1 - weight) + high_columns[bottom[start:end]] * weight
        span = high - low
        stretched = np.asarray(values[start:end], dtype=np.float32) - low
        np.divide(stretched, span, out=stretched, where=span > 0)
        stretched[span <= 0] = 0
        np.clip(stretched, 0.0, 1.0, out=stretched)
        stretched *= 255.0
        out[start:end] = np.rint(stretched)
    return out


# What the view holds per pixel and channel: the result (the strips' working arrays are a few MB whatever the size).
BYTES_PER_PIXEL = 1


def revealing(values: np.ndarray) -> np.ndarray:
    """The revealing view of a frame's modality values (rows × columns) or of a colour picture's channels."""
    from image_analyzer import budget

    budget.require(values.shape[0] * values.shape[1] * BYTES_PER_PIXEL, "Looking for text in the picture")
    if values.ndim == 2:
        return local_contrast(values)
    return np.stack([local_contrast(values[..., channel]) for channel in range(min(3, values.shape[2]))], axis=2)
