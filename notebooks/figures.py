"""Figures for the notebooks and the README, drawn from the project's own functions (matplotlib).

python notebooks/figures.py            # regenerates notebooks/figures/windowing.png for the README
"""

from __future__ import annotations

import html
import io
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg") if "ipykernel" not in sys.modules else None
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from PIL import Image  # noqa: E402

from image_analyzer import dicom  # noqa: E402
from local.reference_render import naive_render  # noqa: E402
from local.samples import sample_bytes  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
README_FIGURE = ROOT / "notebooks" / "figures" / "windowing.png"


# The notebooks call figures.sample(name) for the bytes of a sample DICOM file.
sample = sample_bytes


def _show(ax: Any, pixels: np.ndarray, title: str) -> None:
    ax.imshow(pixels, cmap="gray" if pixels.ndim == 2 else None, vmin=0, vmax=255)
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def presets_figure(data: bytes, frame: int | None = None) -> Figure:
    """The file's own window, the automatic one and every CT preset, side by side."""
    panels = [("file / auto", dicom.render(data, frame=frame))]
    panels += [(name.replace("_", " "), dicom.render(data, frame=frame, window=name)) for name in dicom.PRESETS]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.4 * len(panels), 2.8))
    for ax, (title, rendering) in zip(axes, panels, strict=True):
        window = rendering.metadata["window"]
        _show(ax, rendering.pixels, f"{title}\nC {window['center']:g} W {window['width']:g}")
    fig.tight_layout()
    return fig


def naive_vs_correct_figure(data: bytes, frame: int | None = None, title: str = "") -> Figure:
    fig, axes = plt.subplots(1, 2, figsize=(6, 3.2))
    _show(axes[0], naive_render(data, frame), "naive: per-image min/max")
    rendering = dicom.render(data, frame=frame)
    window = rendering.metadata.get("window") or {}
    _show(axes[1], rendering.pixels, f"Image Analyzer: {window.get('source', 'colour')} window")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def hounsfield_figure(data: bytes, frame: int = 0) -> Figure:
    """Stored values against modality-LUT output, with the preset windows drawn as bands."""
    from pydicom.pixels import pixel_array

    stored = pixel_array(
        dicom.read_dataset(data), index=frame if dicom.frame_count(dicom.read_dataset(data)) > 1 else None
    )
    hu = dicom.modality_values(data, frame)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3))
    axes[0].hist(stored.ravel(), bins=200, color="0.4")
    axes[0].set_title("stored values", fontsize=9)
    axes[1].hist(hu.ravel(), bins=200, color="0.4")
    axes[1].set_title("after the modality LUT (HU for CT)", fontsize=9)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for colour, (name, window) in zip(colours, dicom.PRESETS.items(), strict=False):
        axes[1].axvspan(
            window.center - window.width / 2, window.center + window.width / 2, alpha=0.12, color=colour, label=name
        )
    axes[1].legend(fontsize=7, loc="upper right")
    axes[1].set_yscale("log")
    axes[0].set_yscale("log")
    fig.tight_layout()
    return fig


def frame_strip_figure(data: bytes, count: int = 6) -> Figure:
    frames = dicom.frame_count(dicom.read_dataset(data))
    picks = sorted({round(i * (frames - 1) / max(count - 1, 1)) for i in range(count)})
    fig, axes = plt.subplots(1, len(picks), figsize=(2 * len(picks), 2.2))
    for ax, index in zip(np.atleast_1d(axes), picks, strict=True):
        # Numbered from 1, as DICOM and the page number frames.
        _show(ax, dicom.render(data, frame=index).pixels, f"frame {index + 1} of {frames}")
    fig.tight_layout()
    return fig


def monochrome1_figure(data: bytes) -> Figure:
    fig, axes = plt.subplots(1, 2, figsize=(6, 3.2))
    _show(axes[0], dicom.render(data, invert_monochrome1=False).pixels, "MONOCHROME1 not inverted (wrong)")
    _show(axes[1], dicom.render(data).pixels, "inverted: bone is white")
    fig.tight_layout()
    return fig


def with_sigmoid_voi_lut(data: bytes) -> bytes:
    """The file with a VOI LUT of its own instead of its window: a sigmoid over its stored values (what modality
    workstations write for radiographs), 12-bit output. A sample's own VOI LUTs are straight lines."""
    from pydicom.dataset import Dataset
    from pydicom.pixels import pixel_array
    from pydicom.sequence import Sequence

    ds = dicom.read_dataset(data)
    stored = pixel_array(ds)
    first, last = int(stored.min()), int(stored.max())
    x = np.linspace(-6, 6, last - first + 1)
    item = Dataset()
    item.LUTDescriptor = [last - first + 1, first, 12]
    item.add_new(0x00283006, "US", np.rint(4095 / (1 + np.exp(-x))).astype(np.uint16).tolist())  # LUTData
    ds.VOILUTSequence = Sequence([item])
    for keyword in ("WindowCenter", "WindowWidth", "VOILUTFunction"):
        if keyword in ds:
            delattr(ds, keyword)
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()


def voi_lut_figure(data: bytes) -> Figure:
    """A file's VOI LUT (a curve, not a window) beside a linear window over the same values, and the curve."""
    from pydicom.pixels import apply_voi, pixel_array

    ds = dicom.read_dataset(data)
    own = dicom.render(data)
    stored = pixel_array(ds)
    linear = dicom.render(data, window=dicom.Window((float(stored.min()) + stored.max()) / 2, float(np.ptp(stored))))
    domain = np.arange(int(stored.min()), int(stored.max()) + 1)
    fig, axes = plt.subplots(1, 3, figsize=(9.6, 3.2))
    _show(axes[0], own.pixels, f"its VOI LUT ({own.metadata['window']['source']})")
    _show(axes[1], linear.pixels, "a linear window over the same values")
    axes[2].plot(domain, apply_voi(domain, ds), color="tab:blue")
    axes[2].set_title("the LUT: stored value → output", fontsize=9)
    axes[2].set_xlabel("stored value", fontsize=8)
    axes[2].tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def square_pixels_figure(data: bytes) -> Figure:
    """A frame on its stored grid and as served, with square pixels (as DCMTK's dcmj2pnm +a scales it)."""
    rendering = dicom.render(data)
    stored, served = rendering.pixels, rendering.served()
    fig, axes = plt.subplots(1, 2, figsize=(8, 2.8), gridspec_kw={"width_ratios": [1, 1]})
    for ax, pixels, title in (
        (axes[0], stored, f"stored grid {stored.shape[1]}×{stored.shape[0]}, each pixel drawn square: too flat"),
        (axes[1], served, f"served {served.shape[1]}×{served.shape[0]}: pixel height/width {rendering.aspect:.3g}"),
    ):
        _show(ax, pixels, title)
        ax.set_aspect("equal")
    fig.tight_layout()
    return fig


def supplemental_palette_figure(data: bytes) -> Figure:
    """A greyscale image with a supplemental palette: grey alone, and as served (the palette's range in colour)."""
    rendering = dicom.render(data)
    fig, axes = plt.subplots(1, 2, figsize=(6, 3.2))
    _show(axes[0], rendering.pixels, "without its palette: speckled grey")
    _show(axes[1], rendering.served(), "as served: the palette's range in colour")
    fig.tight_layout()
    return fig


def labels_figure(image: bytes, labels: list[dict[str, Any]], title: str = "") -> Figure:
    """The image with any instance boxes, and the labels as confidence bars."""
    picture = Image.open(io.BytesIO(image))
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [1.2, 1]})
    left.imshow(picture, cmap="gray" if picture.mode in ("L", "I;16") else None)
    left.axis("off")
    left.set_title(title, fontsize=9)
    width, height = picture.size
    for label in labels:
        for instance in label.get("Instances", []):
            box = instance["BoundingBox"]
            left.add_patch(
                Rectangle(
                    (box["Left"] * width, box["Top"] * height),
                    box["Width"] * width,
                    box["Height"] * height,
                    fill=False,
                    color="yellow",
                    lw=2,
                )
            )
            left.text(box["Left"] * width, box["Top"] * height, label["Name"], color="yellow", fontsize=8)
    names = [label["Name"] for label in labels][::-1]
    confidences = [float(label["Confidence"]) for label in labels][::-1]
    right.barh(names or ["(no label)"], confidences or [0], color="tab:blue")
    right.set_xlim(0, 100)
    right.set_xlabel("confidence %")
    fig.tight_layout()
    return fig


def redaction_figure(data: bytes) -> Figure:
    """A DICOM render before and after the processor's redaction stage, with what was filled outlined. The text
    is found by the default detectors: the in-function model and the local DetectText (its service started in
    this process; boto3 on the wire, as the processor)."""
    from image_analyzer.processing import analyse, redact_text
    from image_analyzer.text import TextDetector
    from image_analyzer.text_model import TextModel
    from image_analyzer.text_search import TextDetection, TextSearch
    from local.emulators import local_client
    from local.label_service.label_model import Classifier
    from local.label_service.service import LabelServer, ServiceState

    analysis = analyse(data, "application/dicom")
    server = LabelServer(ServiceState(Classifier())).start()
    try:
        search = TextSearch(TextDetection.BOTH, TextDetector(local_client("rekognition", server.url)), TextModel)
        redacted = redact_text(analysis, search, data)
    finally:
        server.stop()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    _show(axes[0], np.asarray(analysis.picture), "as rendered (before redaction)")
    record = redacted.redaction.to_record()
    _show(
        axes[1],
        np.asarray(redacted.picture),
        f"redacted: {record['regions']} regions, {100 * record['areaFraction']:.1f} % of the picture",
    )
    if redacted.redacted is not None:  # outline what was filled, on the redacted picture
        axes[1].contour(redacted.redacted, levels=[0.5], colors="tab:red", linewidths=0.8)
    fig.tight_layout()
    return fig


def results_table_html(rows: list[dict[str, Any]]) -> str:
    """Job outcomes as an HTML table (name, status, top labels, DICOM summary, error)."""
    out = ["<table><tr><th>file</th><th>status</th><th>labels</th><th>DICOM</th><th>error</th></tr>"]
    for row in rows:
        record = row["record"]
        results = record.get("results") or {}
        labels = ", ".join(
            f"{label['Name']} {float(label['Confidence']):.0f}%" for label in results.get("Labels", [])[:5]
        )
        d = results.get("dicom") or {}
        summary = (
            f"{d.get('modality')} {d.get('photometric')} frame {d.get('frameRendered')} of {d.get('frames')}"
            if d
            else ""
        )
        error = f"{record.get('errorCode')}: {record.get('error')}" if record.get("error") else ""
        cells = (row["name"], record.get("status"), labels, summary, error)
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def readme_figure(target: Path = README_FIGURE) -> Path:
    """Presets and naive vs correct on the same CT slice, in one picture."""
    data = sample("693_UNCR.dcm")
    panels = [("naive min/max", naive_render(data)), ("file window", dicom.render(data).pixels)]
    panels += [(name.replace("_", " "), dicom.render(data, window=name).pixels) for name in dicom.PRESETS]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.2 * len(panels), 2.6))
    for ax, (title, pixels) in zip(axes, panels, strict=True):
        _show(ax, pixels, title)
    fig.suptitle("One CT slice: the naive rendering of common implementations, then correct windows", fontsize=10)
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=80)
    plt.close(fig)
    return target


if __name__ == "__main__":
    print(readme_figure())
