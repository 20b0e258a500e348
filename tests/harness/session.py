"""What one pytest session shares between its parts: where the functions' AWS calls are recorded, and whether
the end-to-end suite (which makes them) runs in it."""

from __future__ import annotations

import pytest

# The e2e suite runs in this session (set at collection): only then is the call log complete.
E2E_IN_SESSION = pytest.StashKey[bool]()
# Tests that read what the rest of the session recorded run last.
RUNS_LAST = "tests/infra/test_permissions.py"
