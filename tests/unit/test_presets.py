"""The CT presets are declared once (image_analyzer.windows): the API's names, the CLI's --window and the page's
window list (the page's own options and the presets.js generated from the declaration) are the same presets with
the same numbers."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from image_analyzer.views import PRESET_NAMES
from image_analyzer.windows import PRESETS
from local.cli import build_parser
from local.web_presets import PRESETS_FILE, presets_module

PAGE = Path(__file__).resolve().parents[2] / "local" / "web" / "index.html"


class _WindowOptions(HTMLParser):
    """(value, text) of each <option> of the page's window list."""

    def __init__(self) -> None:
        super().__init__()
        self.options: list[tuple[str, str]] = []
        self._inside_select = False
        self._value: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "select" and "window-select" in (attributes.get("class") or ""):
            self._inside_select = True
        elif tag == "option" and self._inside_select:
            self._value = attributes.get("value")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._inside_select = False

    def handle_data(self, data: str) -> None:
        if self._value is not None:
            self.options.append((self._value, data.strip()))
            self._value = None


def page_options() -> list[tuple[str, str]]:
    """The window list as app.js assembles it: the page's own options, the presets of presets.js before "custom"."""
    parser = _WindowOptions()
    parser.feed(PAGE.read_text())
    presets = [
        json.loads(line.strip().rstrip(","))
        for line in PRESETS_FILE.read_text().splitlines()
        if line.strip().startswith("{")
    ]
    shown = [(p["name"], f"{p['label']} ({p['center']:g} / {p['width']:g})".replace("-", "−")) for p in presets]
    custom = [i for i, (value, _) in enumerate(parser.options) if value == "custom"]
    assert custom, "the page has a custom option"
    return parser.options[: custom[0]] + shown + parser.options[custom[0] :]


def test_presets_js_is_generated_from_the_declaration() -> None:
    assert PRESETS_FILE.read_text() == presets_module(), "run python -m local.web_presets"


def test_the_page_offers_exactly_the_presets_with_their_numbers() -> None:
    options = page_options()
    assert [value for value, _ in options] == [*PRESET_NAMES, "custom"]
    for value, text in options:
        if value in PRESETS:
            centre, width = (float(n.replace("−", "-")) for n in re.findall(r"[−-]?\d+(?:\.\d+)?", text))
            assert (centre, width) == (PRESETS[value].center, PRESETS[value].width), (value, text)


def test_the_cli_names_every_preset(capsys) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["analyze", "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps the help
    assert f"{', '.join(PRESET_NAMES)}, or CENTRE,WIDTH" in shown
