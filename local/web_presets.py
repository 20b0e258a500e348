"""The page's window list, generated from the one declaration of the presets (image_analyzer.windows).

python -m local.web_presets      # rewrites local/web/presets.js after a change to image_analyzer/windows.py

The page is static (hosted anywhere, no build step), so it cannot import Python: it imports this generated module,
and a test fails when the file and the declaration disagree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from image_analyzer.windows import PRESETS

PRESETS_FILE = Path(__file__).resolve().parent / "web" / "presets.js"


def presets_module() -> str:
    """The text of local/web/presets.js."""
    entries = [
        {"name": name, "label": name.replace("_", " "), "center": float(w.center), "width": float(w.width)}
        for name, w in PRESETS.items()
    ]
    lines = [
        "// Generated from image_analyzer/windows.py by `python -m local.web_presets`: do not edit.",
        "// The CT presets (centre / width, Hounsfield units) the page offers besides the file's own window.",
        "export const PRESETS = Object.freeze([",
        *(f"  {json.dumps(entry)}," for entry in entries),
        "]);",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    PRESETS_FILE.write_text(presets_module())
    print(f"wrote {PRESETS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
