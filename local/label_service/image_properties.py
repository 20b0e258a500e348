"""DetectLabels' ``ImageProperties`` from the pixels, by a documented method (Rekognition does not publish its own):

- the picture is looked at reduced to at most 256 px a side (area averaging), as RGB;
- **Quality** of a region, each 0–100: Brightness, the mean luma (Rec. 601) over 255; Contrast, the luma's
  standard deviation over 127.5 (a black-and-white half split is 100, a flat picture 0); Sharpness,
  100·(1 − e^(−v/200)) with v the variance of the luma's 3×3 Laplacian (a flat picture 0; blurring lowers it);
- **DominantColors**: the region's colours quantised by median cut into at most ``MaxDominantColors`` colours,
  largest first, each with its RGB, ``#rrggbb``, the nearest CSS named colour (Pillow's table, by RGB distance),
  a simplified colour name (from hue, saturation and lightness) and its share of the region's pixels;
- **Foreground** and **Background**: the background is what looks like the picture's border — the pixels whose
  colour lies within an Otsu threshold of the border's median colour — and the foreground the rest; with too little
  of either (under 5 %), the centre quarter of the area is the foreground.
"""

from __future__ import annotations

import colorsys
from functools import cache
from typing import Any

import numpy as np
from PIL import Image, ImageColor

MAX_SIDE = 256
SHARPNESS_SCALE = 200.0
MIN_REGION_SHARE = 0.05


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _laplacian(luma: np.ndarray) -> np.ndarray:
    padded = np.pad(luma, 1, mode="edge")
    return padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:] - 4 * padded[1:-1, 1:-1]


def quality(rgb: np.ndarray, region: np.ndarray) -> dict[str, float]:
    """Brightness, Sharpness and Contrast (0–100) of the pixels of ``rgb`` (float, 0–255) where ``region`` is set."""
    luma = _luma(rgb)
    values = luma[region]
    if values.size == 0:
        return {"Brightness": 0.0, "Sharpness": 0.0, "Contrast": 0.0}
    edges = _laplacian(luma)[region]
    sharpness = 100.0 * (1.0 - np.exp(-float(edges.var()) / SHARPNESS_SCALE))
    return {
        "Brightness": round(100.0 * float(values.mean()) / 255.0, 4),
        "Sharpness": round(float(sharpness), 4),
        "Contrast": round(min(100.0, 100.0 * float(values.std()) / 127.5), 4),
    }


@cache
def _css_colours() -> tuple[tuple[str, np.ndarray], ...]:
    return tuple(
        (name, np.array(ImageColor.getrgb(code)[:3], dtype=float)) for name, code in ImageColor.colormap.items()
    )


def css_colour(rgb: tuple[int, int, int]) -> str:
    point = np.array(rgb, dtype=float)
    return min(_css_colours(), key=lambda item: float(((item[1] - point) ** 2).sum()))[0]


def simplified_colour(rgb: tuple[int, int, int]) -> str:
    """One of black, white, grey, red, orange, yellow, green, cyan, blue, purple, pink, brown."""
    hue, lightness, saturation = colorsys.rgb_to_hls(*(channel / 255 for channel in rgb))
    if lightness < 0.12:
        return "black"
    if lightness > 0.92:
        return "white"
    if saturation < 0.15:
        return "grey"
    degrees = hue * 360
    if degrees < 15 or degrees >= 345:
        return "brown" if lightness < 0.3 else "pink" if lightness > 0.75 else "red"
    if degrees < 45:
        return "brown" if lightness < 0.35 else "orange"
    if degrees < 70:
        return "yellow"
    if degrees < 165:
        return "green"
    if degrees < 195:
        return "cyan"
    if degrees < 255:
        return "blue"
    if degrees < 290:
        return "purple"
    return "pink"


def dominant_colours(rgb8: np.ndarray, region: np.ndarray, count: int) -> list[dict[str, Any]]:
    """The region's ``count`` (or fewer) main colours, largest share first."""
    pixels = rgb8[region]
    if count == 0 or pixels.size == 0:
        return []
    strip = Image.fromarray(pixels.reshape(1, -1, 3))
    quantised = strip.quantize(colors=count, method=Image.Quantize.MEDIANCUT)
    palette = quantised.getpalette() or []
    shares = np.bincount(np.asarray(quantised).ravel(), minlength=count)
    out = []
    for index in np.argsort(shares)[::-1]:
        if shares[index] == 0:
            continue
        red, green, blue = (int(v) for v in palette[3 * index : 3 * index + 3])
        out.append(
            {
                "Red": red,
                "Blue": blue,
                "Green": green,
                "HexCode": f"#{red:02x}{green:02x}{blue:02x}",
                "CSSColor": css_colour((red, green, blue)),
                "SimplifiedColor": simplified_colour((red, green, blue)),
                "PixelPercent": round(100.0 * float(shares[index]) / pixels.shape[0], 4),
            }
        )
    return out


def _otsu(distances: np.ndarray) -> float:
    histogram, edges = np.histogram(distances, bins=64)
    centres = (edges[:-1] + edges[1:]) / 2
    weights = histogram.astype(float)
    best, threshold = -1.0, float(centres[0])
    for split in range(1, len(weights)):
        low, high = weights[:split].sum(), weights[split:].sum()
        if low == 0 or high == 0:
            continue
        mean_low = (weights[:split] * centres[:split]).sum() / low
        mean_high = (weights[split:] * centres[split:]).sum() / high
        between = low * high * (mean_low - mean_high) ** 2
        if between > best:
            best, threshold = between, float(edges[split])
    return threshold


def foreground(rgb: np.ndarray) -> np.ndarray:
    """True where the picture is not like its border (see the module's description)."""
    rows, columns = rgb.shape[:2]
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    distances = np.sqrt(((rgb - np.median(border, axis=0)) ** 2).sum(axis=-1))
    mask = distances > _otsu(distances) if distances.max() > 0 else np.zeros((rows, columns), dtype=bool)
    if not MIN_REGION_SHARE <= mask.mean() <= 1 - MIN_REGION_SHARE:
        mask = np.zeros((rows, columns), dtype=bool)
        mask[rows // 4 : rows - rows // 4, columns // 4 : columns - columns // 4] = True
    return mask


def image_properties(image: Image.Image, max_dominant_colours: int) -> dict[str, Any]:
    small = image.convert("RGB")
    small.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
    rgb8 = np.asarray(small)
    rgb = rgb8.astype(np.float64)
    whole = np.ones(rgb.shape[:2], dtype=bool)
    front = foreground(rgb)
    return {
        "Quality": quality(rgb, whole),
        "DominantColors": dominant_colours(rgb8, whole, max_dominant_colours),
        "Foreground": {
            "Quality": quality(rgb, front),
            "DominantColors": dominant_colours(rgb8, front, max_dominant_colours),
        },
        "Background": {
            "Quality": quality(rgb, ~front),
            "DominantColors": dominant_colours(rgb8, ~front, max_dominant_colours),
        },
    }
