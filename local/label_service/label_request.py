"""DetectLabels' request beyond the image: ``MaxLabels``, ``MinConfidence``, ``Features`` and ``Settings``, checked
against botocore's service model (rekognition 2016-06-27: ranges, list sizes, lengths, the filter pattern, the
feature enum) with Rekognition's error type, and the label filters applied as the Developer Guide describes them.

botocore itself only checks minimums and types on the client: an unknown feature or MaxDominantColors 21 reach the
service, which refuses them (InvalidParameterException); so does this one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from local.label_service.errors import RekognitionError

FEATURES = ("GENERAL_LABELS", "IMAGE_PROPERTIES")
DEFAULT_MAX_LABELS = 1000  # the documented default and upper limit
DEFAULT_MIN_CONFIDENCE = 55.0
DEFAULT_MAX_DOMINANT_COLORS = 10
MAX_DOMINANT_COLORS = 20
MAX_FILTERS = 100
MAX_FILTER_LENGTH = 50
# GeneralLabelsFilterValue's pattern, as the service model writes it ('-_ is a range: ' to _).
_FILTER_PATTERN = re.compile(r"[A-Za-z0-9àâèçñó'-_(). ]*")
FILTER_LISTS = (
    "LabelInclusionFilters", "LabelExclusionFilters", "LabelCategoryInclusionFilters", "LabelCategoryExclusionFilters",
)  # fmt: skip


def _invalid(message: str) -> RekognitionError:
    return RekognitionError("InvalidParameterException", message)


@dataclass(frozen=True)
class LabelFilters:
    """Names compared as Rekognition compares them: case-insensitively."""

    include: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()
    include_categories: frozenset[str] = frozenset()
    exclude_categories: frozenset[str] = frozenset()

    def keeps(self, label: dict[str, Any]) -> bool:
        """A label is kept when it passes every filter given. A label filter matches its name or one of its
        aliases; an exclusion also matches any of its parents (excluding Animal excludes Cat); a category filter
        matches its categories."""
        names = {label["Name"].lower(), *(alias["Name"].lower() for alias in label.get("Aliases", []))}
        parents = {parent["Name"].lower() for parent in label.get("Parents", [])}
        categories = {category["Name"].lower() for category in label.get("Categories", [])}
        if self.include and not names & self.include:
            return False
        if self.exclude & (names | parents):
            return False
        if self.include_categories and not categories & self.include_categories:
            return False
        return not categories & self.exclude_categories


@dataclass(frozen=True)
class LabelRequest:
    max_labels: int = DEFAULT_MAX_LABELS
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    features: tuple[str, ...] = ("GENERAL_LABELS",)
    filters: LabelFilters = LabelFilters()
    max_dominant_colors: int = DEFAULT_MAX_DOMINANT_COLORS

    @property
    def labels(self) -> bool:
        return "GENERAL_LABELS" in self.features

    @property
    def image_properties(self) -> bool:
        return "IMAGE_PROPERTIES" in self.features


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _filter_list(settings: dict[str, Any], name: str) -> frozenset[str]:
    values = settings.get(name)
    if values is None:
        return frozenset()
    if not isinstance(values, list) or len(values) > MAX_FILTERS:
        raise _invalid(f"Settings.GeneralLabels.{name} must be a list of at most {MAX_FILTERS} names.")
    for value in values:
        if not isinstance(value, str) or len(value) > MAX_FILTER_LENGTH or not _FILTER_PATTERN.fullmatch(value):
            raise _invalid(
                f"Settings.GeneralLabels.{name}: each name is text of at most {MAX_FILTER_LENGTH} characters "
                f"matching {_FILTER_PATTERN.pattern}."
            )
    return frozenset(value.lower() for value in values)


def _features(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ("GENERAL_LABELS",)
    if not isinstance(raw, list) or len(raw) > len(FEATURES) or not all(f in FEATURES for f in raw):
        raise _invalid(f"Features must be a list of at most {len(FEATURES)} of: {', '.join(FEATURES)}.")
    return tuple(dict.fromkeys(raw)) or ("GENERAL_LABELS",)


def label_request(request: dict[str, Any]) -> LabelRequest:
    """The request's parameters, validated; raises RekognitionError."""
    max_labels = request.get("MaxLabels", DEFAULT_MAX_LABELS)
    min_confidence = request.get("MinConfidence", DEFAULT_MIN_CONFIDENCE)
    if not _integer(max_labels) or max_labels < 0:
        raise _invalid("MaxLabels must be a non-negative integer.")
    if not _number(min_confidence) or not 0 <= min_confidence <= 100:
        raise _invalid("MinConfidence must be between 0 and 100.")
    features = _features(request.get("Features"))
    settings = request.get("Settings") or {}
    if not isinstance(settings, dict):
        raise _invalid("Settings must be an object.")
    general = settings.get("GeneralLabels") or {}
    properties = settings.get("ImageProperties") or {}
    if not isinstance(general, dict) or not isinstance(properties, dict):
        raise _invalid("Settings.GeneralLabels and Settings.ImageProperties must be objects.")
    filters = LabelFilters(*(_filter_list(general, name) for name in FILTER_LISTS))
    colours = properties.get("MaxDominantColors", DEFAULT_MAX_DOMINANT_COLORS)
    if not _integer(colours) or not 0 <= colours <= MAX_DOMINANT_COLORS:
        raise _invalid(
            f"Settings.ImageProperties.MaxDominantColors must be an integer from 0 to {MAX_DOMINANT_COLORS}."
        )
    return LabelRequest(max_labels, float(min_confidence), features, filters, colours)
