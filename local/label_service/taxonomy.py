"""ImageNet-1k classes → Rekognition-style labels: a name, aliases, parents (nearest first) and a category.

ImageNet orders its classes by the WordNet hierarchy, so contiguous index ranges share ancestors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CLASSES_FILE = Path(__file__).resolve().parent / "model" / "imagenet_classes.json"

ANIMALS = "Animals and Pets"
_M = ("Mammal", "Animal")
# (first index, last index, parents nearest first, category)
_RANGES: tuple[tuple[int, int, tuple[str, ...], str], ...] = (
    (0, 6, ("Fish", "Animal"), ANIMALS),
    (7, 24, ("Bird", "Animal"), ANIMALS),
    (25, 32, ("Amphibian", "Animal"), ANIMALS),
    (33, 37, ("Turtle", "Reptile", "Animal"), ANIMALS),
    (38, 48, ("Lizard", "Reptile", "Animal"), ANIMALS),
    (49, 50, ("Crocodile", "Reptile", "Animal"), ANIMALS),
    (51, 51, ("Dinosaur", "Reptile", "Animal"), ANIMALS),
    (52, 68, ("Snake", "Reptile", "Animal"), ANIMALS),
    (69, 79, ("Invertebrate", "Animal"), ANIMALS),
    (80, 100, ("Bird", "Animal"), ANIMALS),
    (101, 101, ("Elephant", *_M), ANIMALS),
    (102, 106, _M, ANIMALS),
    (107, 117, ("Sea Life", "Invertebrate", "Animal"), ANIMALS),
    (118, 126, ("Crustacean", "Sea Life", "Invertebrate", "Animal"), ANIMALS),
    (127, 146, ("Bird", "Animal"), ANIMALS),
    (147, 150, ("Sea Life", *_M), ANIMALS),
    (151, 268, ("Dog", "Pet", "Canine", *_M), ANIMALS),
    (269, 272, ("Wolf", "Canine", *_M), ANIMALS),
    (273, 276, ("Canine", *_M), ANIMALS),
    (277, 280, ("Fox", "Canine", *_M), ANIMALS),
    (281, 285, ("Cat", "Pet", *_M), ANIMALS),
    (286, 293, ("Big Cat", "Wildlife", *_M), ANIMALS),
    (294, 297, ("Bear", "Wildlife", *_M), ANIMALS),
    (298, 299, _M, ANIMALS),
    (300, 320, ("Insect", "Invertebrate", "Animal"), ANIMALS),
    (321, 326, ("Butterfly", "Insect", "Invertebrate", "Animal"), ANIMALS),
    (327, 329, ("Sea Life", "Invertebrate", "Animal"), ANIMALS),
    (330, 332, ("Rabbit", *_M), ANIMALS),
    (333, 338, ("Rodent", *_M), ANIMALS),
    (339, 339, ("Horse", *_M), ANIMALS),
    (340, 340, ("Wildlife", *_M), ANIMALS),
    (341, 343, ("Pig", *_M), ANIMALS),
    (344, 344, ("Wildlife", *_M), ANIMALS),
    (345, 347, ("Cattle", *_M), ANIMALS),
    (348, 355, _M, ANIMALS),
    (356, 364, _M, ANIMALS),
    (365, 369, ("Ape", "Primate", *_M), ANIMALS),
    (370, 384, ("Monkey", "Primate", *_M), ANIMALS),
    (385, 386, ("Elephant", "Wildlife", *_M), ANIMALS),
    (387, 388, ("Bear", *_M), ANIMALS),
    (389, 397, ("Fish", "Animal"), ANIMALS),
    (924, 929, ("Food",), "Food and Beverage"),
    (930, 935, ("Bread", "Food"), "Food and Beverage"),
    (936, 947, ("Vegetable", "Plant", "Food"), "Food and Beverage"),
    (948, 957, ("Fruit", "Plant", "Food"), "Food and Beverage"),
    (958, 958, ("Plant",), "Plants and Flowers"),
    (959, 965, ("Food", "Meal"), "Food and Beverage"),
    (966, 967, ("Beverage", "Drink"), "Food and Beverage"),
    (968, 968, ("Cup",), "Kitchen and Dining"),
    (969, 969, ("Beverage", "Drink"), "Food and Beverage"),
    (970, 980, ("Nature", "Outdoors"), "Nature and Outdoors"),
    (981, 983, ("Person",), "Person Description"),
    (984, 990, ("Plant",), "Plants and Flowers"),
    (991, 997, ("Fungus", "Plant"), "Plants and Flowers"),
    (998, 998, ("Plant", "Food"), "Food and Beverage"),
)
_VEHICLES = frozenset(
    {403, 404, 407, 436, 444, 466, 468, 472, 484, 510, 511, 554, 555, 561, 565, 569, 573, 575, 576, 586, 595, 603,
     609, 612, 625, 627, 628, 654, 656, 661, 665, 670, 671, 675, 705, 717, 724, 734, 751, 757, 779, 780, 802, 803,
     814, 817, 820, 829, 833, 847, 864, 866, 867, 871, 874, 880, 895, 908, 913, 914}
)  # fmt: skip


@dataclass(frozen=True)
class LabelClass:
    name: str
    aliases: tuple[str, ...]
    parents: tuple[str, ...]
    category: str


def _title(text: str) -> str:
    return " ".join(word[:1].upper() + word[1:] for word in text.split())


def _placement(index: int) -> tuple[tuple[str, ...], str]:
    for first, last, parents, category in _RANGES:
        if first <= index <= last:
            return parents, category
    if index in _VEHICLES:
        return ("Vehicle", "Transportation"), "Vehicles and Automotive"
    return (), "Everyday Objects"


@cache
def classes() -> tuple[LabelClass, ...]:
    raw = json.loads(CLASSES_FILE.read_text())
    out = []
    for index, entry in enumerate(raw):
        lemmas = [_title(lemma) for lemma in entry["lemmas"]]
        parents, category = _placement(index)
        out.append(LabelClass(lemmas[0], tuple(dict.fromkeys(lemmas[1:])), parents, category))
    return tuple(out)


@cache
def parent_chains() -> dict[str, tuple[tuple[str, ...], str]]:
    """Every parent label → (its own parents, its category): the ancestors that all classes naming it agree on."""
    tails: dict[str, list[tuple[str, ...]]] = {}
    categories: dict[str, str] = {}
    for label in classes():
        for i, parent in enumerate(label.parents):
            tails.setdefault(parent, []).append(label.parents[i + 1 :])
            categories.setdefault(parent, label.category)
    chains: dict[str, tuple[tuple[str, ...], str]] = {}
    for parent, options in tails.items():
        common = min(options, key=len)
        while common and not all(t[len(t) - len(common) :] == common for t in options):
            common = common[1:]
        chains[parent] = (common, categories[parent])
    return chains
