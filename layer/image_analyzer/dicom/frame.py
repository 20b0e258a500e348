"""One frame's view of the dataset: the attributes the greyscale pipeline reads, functional-group overrides folded in."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from image_analyzer.dicom.supplemental import PALETTE_KEYWORDS
from image_analyzer.windows import Window


@dataclass(frozen=True)
class FrameData:
    dataset: Dataset
    stored: np.ndarray  # the frame's stored values, as decoded
    index: int
    automatic: Window | None  # the automatic window it was shown in, if the file gave none

    def modality_values(self) -> np.ndarray:
        """The frame after its modality LUT (float32): what every window is a monotone function of."""
        from pydicom.pixels import apply_modality_lut

        return np.asarray(apply_modality_lut(self.stored, frame_view(self.dataset, self.index)), dtype=np.float32)


# What the greyscale pipeline reads, at the top level and in the functional-group macros that override it.
_PIPELINE_KEYWORDS = (
    "PhotometricInterpretation", "BitsStored", "BitsAllocated", "PixelRepresentation", "RescaleSlope",
    "RescaleIntercept", "RescaleType", "ModalityLUTSequence", "VOILUTSequence", "WindowCenter", "WindowWidth", "VOILUTFunction",
    "PixelPaddingValue", "PixelSpacing", "ImagerPixelSpacing", "PixelAspectRatio", "PixelPresentation",
    *PALETTE_KEYWORDS,
)  # fmt: skip


# What a LUT item holds for the pipeline: no LUTExplanation (free text), nothing else an item may carry.
_LUT_ITEM_KEYWORDS = ("LUTDescriptor", "LUTData", "ModalityLUTType")


def _copy_pipeline_attributes(source: Dataset, view: Dataset) -> None:
    """The named attributes only (never free text, identifying or private ones), LUT items rebuilt from their
    descriptor and data."""
    for keyword in _PIPELINE_KEYWORDS:
        if keyword not in source:
            continue
        if keyword.endswith("LUTSequence"):
            items = []
            for item in source[keyword].value or []:
                rebuilt = Dataset()
                for name in _LUT_ITEM_KEYWORDS:
                    if name in item:
                        rebuilt[name] = item[name]
                items.append(rebuilt)
            setattr(view, keyword, Sequence(items))
        else:
            view[keyword] = source[keyword]


def frame_view(ds: Dataset, index: int) -> Dataset:
    """The attributes the grayscale pipeline reads, for one frame (functional groups override the top level)."""
    view = Dataset()
    view.file_meta = ds.file_meta  # LUT data in OW needs the byte order
    _copy_pipeline_attributes(ds, view)
    groups = [ds.get("SharedFunctionalGroupsSequence"), ds.get("PerFrameFunctionalGroupsSequence")]
    for sequence, item_index in zip(groups, (0, index), strict=True):
        if not sequence or item_index >= len(sequence):
            continue
        group = sequence[item_index]
        for macro in ("PixelValueTransformationSequence", "FrameVOILUTSequence", "PixelMeasuresSequence"):
            if macro in group and group[macro].value:
                _copy_pipeline_attributes(group[macro].value[0], view)
    return view
