"""The processor's memory budget, checked before anything is decoded or inflated.

A file under the upload limit can still declare a frame of gigabytes (a deflate or RLE bomb, a 9000 × 9000 JPEG of
a few hundred bytes). The work a file asks for is estimated from its headers and compared with what is left of the
budget — a share of the function's memory, less what the process already holds — so that the worker is never
killed for running out of memory: the job ends ``IMAGE_TOO_LARGE`` instead, on the first delivery.
"""

from __future__ import annotations

import os
import resource

from image_analyzer.errors import ErrorCode, ProcessingError

# Share of the function's memory the processor may use at its peak; the rest is headroom for the runtime,
# allocator fragmentation and estimates that fall short.
MEMORY_SHARE = 0.6
DEFAULT_MEMORY_MB = 1024
_MB = 1024 * 1024


def memory_limit_bytes() -> int:
    """The function's memory as Lambda (or the local runtime) declares it; outside a function (a notebook, a test,
    a script using the library), the machine's memory."""
    declared = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    if declared is not None:
        try:
            return int(declared) * _MB
        except ValueError:
            return DEFAULT_MEMORY_MB * _MB
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return DEFAULT_MEMORY_MB * _MB


def resident_bytes() -> int:
    """This process's resident memory now (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def available_bytes() -> int:
    return max(0, int(memory_limit_bytes() * MEMORY_SHARE) - resident_bytes())


def require(needed_bytes: int, what: str) -> None:
    """Refuse work estimated at ``needed_bytes`` when it does not fit in what is left of the budget."""
    available = available_bytes()
    if needed_bytes > available:
        raise ProcessingError(
            ErrorCode.IMAGE_TOO_LARGE,
            f"{what} would need about {needed_bytes // _MB} MB to process, more than the "
            f"{available // _MB} MB this processor can use safely.",
        )


def release_freed_memory() -> None:
    """Hand memory that was freed back to the system (glibc keeps it in the process otherwise, and the next
    stage's budget, read from the resident size, would count it as held)."""
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to hand back this way
        ctypes.CDLL("libc.so.6").malloc_trim(0)
