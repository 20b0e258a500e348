"""The in-function text detector: PP-OCRv4's text *detection* model (ONNX, Apache-2.0) run on the picture's own
pixels, in tiles at native resolution.

Detection only: a region is text when the model's probability map says so, whether or not anything could read
it; nothing is recognised, so nothing of what the text says ever exists in the process. The model ships in the
layer (``image_analyzer/models/``, put there by the layer build from PyPI's rapidocr-onnxruntime wheel); in a
development checkout it is read from that package.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MODEL_FILE = "ppocrv4_det.onnx"
_PACKAGED = Path(__file__).parent / "models" / MODEL_FILE
# The detector's input is normalised to [-1, 1] (PP-OCR's mean 0.5, std 0.5 on 0-1 values).
_SCALE = 2.0 / 255.0
# Pixels of the probability map at or over this are text (PP-OCR's own binarisation threshold).
PIXEL_THRESHOLD = 0.3
# A component is kept when its mean probability reaches this. PP-OCR keeps 0.5 for recognition; a detector that
# decides alone what is filled keeps what is plausibly text: a faint date the recogniser would drop is still text.
REGION_THRESHOLD = 0.35
# DB's probability map covers a shrunk copy of each text region; PP-OCR grows it back by area × 1.6 / perimeter.
UNCLIP_RATIO = 1.6
# Tiles: the model's input sides are multiples of 32. Tiles overlap by more than the tallest text a tile must hold
# whole (text taller than this is found in the tile's own context anyway: 200 px letters are not cut into
# illegible pieces by one seam).
TILE = 960
OVERLAP = 128
# What one tile's pass holds at its peak (the network's activations; measured 160 MB at 960², 330 MB at 1280²):
# checked against the memory budget before the model runs.
PASS_BYTES = 200 * 1024 * 1024
# A line of text is at most this many pixels high (its shrunk core, before it is grown back): taller components
# are anatomy, table edges and gradients. Text written across the pass (vertical in an upright pass) is found
# by the pass a quarter turn round, where it is a line again.
MAX_LINE_HEIGHT = 96
# Around whatever the upright pass responded to, this much is looked at again a quarter turn round (a vertical
# line's characters answer one by one: the margin joins them into one crop).
CANDIDATE_MARGIN = 64
# Turned, anatomy (a whole-body scan's legs) looks more like lines of text: a region found a quarter turn round
# must be surer.
TURNED_REGION_THRESHOLD = 0.8
# What counts as a response: far under what is text (8 px letters written downwards barely reach 0.3).
CANDIDATE_THRESHOLD = 0.1
_MIN_SIDE = 64
# Pixels mirrored past each edge in each pass (the edge pixel repeated: numpy's "reflect", which skips it, made
# the model answer nothing at all on some pictures).
BORDER = 32


def model_path() -> Path:
    """The detection model: the copy the layer ships, else the one rapidocr-onnxruntime installed."""
    if _PACKAGED.exists():
        return _PACKAGED
    try:
        import rapidocr_onnxruntime
    except ImportError:
        raise FileNotFoundError(
            f"the text detection model is not installed: {_PACKAGED} (the layer build puts it there) "
            "or the rapidocr-onnxruntime package"
        ) from None
    return Path(rapidocr_onnxruntime.__file__).parent / "models" / "ch_PP-OCRv4_det_infer.onnx"


@dataclass(frozen=True)
class PixelBox:
    """An axis-aligned region in pixels: left, top inclusive; right, bottom exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left


def _spans(size: int) -> list[tuple[int, int]]:
    """(start, end) of tiles covering ``size`` pixels, each at most TILE long, overlapping by OVERLAP."""
    if size <= TILE:
        return [(0, size)]
    count = -(-(size - OVERLAP) // (TILE - OVERLAP))
    length = -(-(size + (count - 1) * OVERLAP) // count)  # equal tiles: the model's cost is its input's area
    starts = [round(i * (size - length) / (count - 1)) for i in range(count)]
    return [(start, start + length) for start in starts]


def _padded(tile: np.ndarray) -> np.ndarray:
    """The tile as the model's NCHW float input, padded (edge values) to sides that are multiples of 32."""
    rows, columns = tile.shape[:2]
    height = max(_MIN_SIDE, -(-rows // 32) * 32)
    width = max(_MIN_SIDE, -(-columns // 32) * 32)
    grey = tile if tile.ndim == 2 else None
    channels = np.repeat(grey[..., None], 3, axis=2) if grey is not None else tile[..., :3]
    padded = np.pad(channels, ((0, height - rows), (0, width - columns), (0, 0)), mode="edge")
    out = padded.astype(np.float32).transpose(2, 0, 1)[None]
    out *= _SCALE
    out -= 1.0
    return out


def components(mask: np.ndarray) -> list[tuple[int, int, int, int, np.ndarray, np.ndarray]]:
    """Connected components (8-neighbour) of a boolean mask, from runs per row: (top, bottom, left, right,
    rows, starts/ends) — only the bounds and the runs are kept."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)
    rows_up, cols_up = np.nonzero(edges == 1)
    _, cols_down = np.nonzero(edges == -1)
    runs = list(zip(rows_up.tolist(), cols_up.tolist(), cols_down.tolist(), strict=True))  # (row, start, end)
    parent = list(range(len(runs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    previous: list[int] = []
    current: list[int] = []
    row_of = -1
    for index, (row, start, end) in enumerate(runs):
        if row != row_of:
            previous = current if row == row_of + 1 else []
            current = []
            row_of = row
        for other in previous:
            _, o_start, o_end = runs[other]
            if o_start <= end and start <= o_end:  # touching diagonally counts (end is exclusive)
                a, b = find(index), find(other)
                if a != b:
                    parent[a] = b
        current.append(index)
    groups: dict[int, list[int]] = {}
    for index in range(len(runs)):
        groups.setdefault(find(index), []).append(index)
    out = []
    for members in groups.values():
        rows = np.array([runs[i][0] for i in members])
        starts = np.array([runs[i][1] for i in members])
        ends = np.array([runs[i][2] for i in members])
        out.append(
            (int(rows.min()), int(rows.max()) + 1, int(starts.min()), int(ends.max()), rows, np.stack([starts, ends]))
        )
    return out


def regions_from_probability(
    probability: np.ndarray, threshold: float = REGION_THRESHOLD, with_candidates: bool = True
) -> tuple[list[PixelBox], list[PixelBox]]:
    """(text regions, candidates) of one probability map, in the map's own pixels. Each region is grown back as
    PP-OCR's unclip does (by area × ratio / perimeter); candidates (when asked for) are wherever the map
    responded at all, for the pass a quarter turn round to look at again."""
    candidates = []
    if with_candidates:
        candidates = [PixelBox(c[2], c[0], c[3], c[1]) for c in components(probability >= CANDIDATE_THRESHOLD)]
    boxes = []
    for top, bottom, left, right, rows, spans in components(probability >= PIXEL_THRESHOLD):
        area = int((spans[1] - spans[0]).sum())
        height, width = bottom - top, right - left
        if area < 3 or height > MAX_LINE_HEIGHT:
            continue
        score = float(sum(probability[r, s:e].sum() for r, s, e in zip(rows, spans[0], spans[1], strict=True))) / area
        if score < threshold:
            continue
        grow = int(np.ceil(area * UNCLIP_RATIO / (2 * (height + width))))
        boxes.append(PixelBox(left - grow, top - grow, right + grow, bottom + grow))
    return boxes, candidates


def _grown_and_merged(boxes: list[PixelBox], margin: int, rows: int, columns: int) -> list[PixelBox]:
    """Boxes grown by ``margin`` (inside the picture), overlapping ones merged until none overlap."""
    merged = [
        PixelBox(
            max(0, b.left - margin),
            max(0, b.top - margin),
            min(columns, b.right + margin),
            min(rows, b.bottom + margin),
        )
        for b in boxes
    ]
    changed = True
    while changed:
        changed = False
        out: list[PixelBox] = []
        for box in merged:
            for index, other in enumerate(out):
                if (
                    box.left < other.right
                    and other.left < box.right
                    and box.top < other.bottom
                    and other.top < box.bottom
                ):
                    out[index] = PixelBox(
                        min(box.left, other.left), min(box.top, other.top),
                        max(box.right, other.right), max(box.bottom, other.bottom),
                    )  # fmt: skip
                    changed = True
                    break
            else:
                out.append(box)
        merged = out
    return merged


def _quarter_turn_back(box: PixelBox, columns: int, left: int, top: int) -> PixelBox:
    """A box found in ``np.rot90`` of a crop (``columns`` wide, at ``left``, ``top``) in the picture's pixels."""
    return PixelBox(left + columns - box.bottom, top + box.left, left + columns - box.top, top + box.right)


class TextModel:
    """The detection model, loaded once per warm container; calls are serialised (it uses every core)."""

    def __init__(self, path: Path | None = None, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 4
        # Idle threads sleep: the cores are the next stage's as soon as a tile is done.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session: Any = ort.InferenceSession(
            str(path or model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name
        # The arena plans a tile's activations (150 MB at 960², 250 without it) and, shrunk after every run,
        # keeps none of them: kept, they left every later stage's memory budget (the classifier's, the frame
        # copy's) with nothing.
        self._run_options = ort.RunOptions()
        self._run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self._lock = threading.Lock()

    def probability(self, tile: np.ndarray) -> np.ndarray:
        """The text probability of every pixel of ``tile`` (uint8, grey or RGB, at most TILE a side)."""
        from image_analyzer import budget

        rows, columns = tile.shape[:2]
        with self._lock:
            out = self._session.run(None, {self._input: _padded(tile)}, self._run_options)[0]
        probability = np.ascontiguousarray(out[0, 0, :rows, :columns])
        del out
        # The run's activations were freed, but the allocator keeps them: handed back at once, a pass over many
        # tiles peaks at one tile's work, not at what fragmentation piles up (430 MB over a 9 MP frame's 16).
        budget.release_freed_memory()
        return probability

    def _pass(self, pixels: np.ndarray, turned: bool = False) -> tuple[list[PixelBox], list[PixelBox]]:
        """(regions, candidates) of one orientation, at native resolution: tiles of at most TILE pixels. The
        picture is mirrored a little past its edges first: text the border cuts into is then whole glyphs beside
        their mirror images, which the model finds as it finds any text (it answers poorly to glyphs that run
        into its input's edge; a black frame made the picture's own edges look like text)."""
        rows, columns = pixels.shape[:2]
        border = BORDER
        widths = ((border, border), (border, border)) + (((0, 0),) if pixels.ndim == 3 else ())
        pixels = np.pad(pixels, widths, mode="symmetric")
        found: list[PixelBox] = []
        candidates: list[PixelBox] = []
        for top, bottom in _spans(pixels.shape[0]):
            for left, right in _spans(pixels.shape[1]):
                boxes, seen = regions_from_probability(
                    self.probability(pixels[top:bottom, left:right]),
                    TURNED_REGION_THRESHOLD if turned else REGION_THRESHOLD,
                    with_candidates=not turned,
                )
                for box, into in [(b, found) for b in boxes] + [(c, candidates) for c in seen]:
                    shifted = PixelBox(
                        max(0, box.left + left - border), max(0, box.top + top - border),
                        min(columns, box.right + left - border), min(rows, box.bottom + top - border),
                    )  # fmt: skip
                    if shifted.width > 0 and shifted.height > 0:
                        into.append(shifted)
        return found, candidates

    def find(self, pixels: np.ndarray) -> list[PixelBox]:
        """Text regions of a uint8 picture (grey or RGB) in any of four orientations, in its own pixels.

        The upright pass finds text at 0° and 180° (the model's training flips pictures) and responds, at least in
        part, to text at 90° and 270°. Wherever it responded at all, the picture is looked at again a quarter
        turn round, where such text is a line: a second pass over what might be text, not over the picture.
        A known limit: 8 px letters written downwards within a few pixels of the border get no answer upright,
        so are not looked at again (turning small pictures whole found them, and whole-body NM scans' legs as
        text: 9 % of the picture)."""
        from image_analyzer import budget

        budget.require(PASS_BYTES, "Looking for text in the picture")
        rows, columns = pixels.shape[:2]
        found, candidates = self._pass(pixels)
        for crop in _grown_and_merged(candidates, CANDIDATE_MARGIN, rows, columns):
            quarter_turned = np.ascontiguousarray(np.rot90(pixels[crop.top : crop.bottom, crop.left : crop.right]))
            boxes, _ = self._pass(quarter_turned, turned=True)
            found += [_quarter_turn_back(box, crop.width, crop.left, crop.top) for box in boxes]
        return found
