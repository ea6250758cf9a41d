"""Keep freed memory in the worker instead of giving it back to the kernel at every request.

A worker allocates and frees a few request-sized buffers (hundreds of KiB) per request: gRPC's
message, the redacted copy, protobuf arenas. glibc serves allocations that large with
``mmap`` and returns them with ``munmap`` (or trims the heap top), so each request pays for
fresh, zeroed pages: hundreds of page faults a batch, about a third of a worker's CPU on a
pass-through. ``keep_freed_memory()``, called once in each worker, raises glibc's thresholds
(``mallopt``) so that such buffers are reused from the heap::

    keep_freed_memory()   # no-op off glibc, or when the operator set MALLOC_*_ themselves

The cost: each worker keeps up to about 64 MiB of freed heap (``M_TOP_PAD``) instead of
returning it. An operator who sets any of ``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_`` or ``MALLOC_TOP_PAD_`` keeps full control: nothing is changed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from collections.abc import Mapping

logger = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
_SETTINGS = (
    (_M_MMAP_THRESHOLD, 32 << 20),  # requests up to 32 MiB come from the heap
    (_M_TRIM_THRESHOLD, 128 << 20),  # the heap top is trimmed only past 128 MiB free
    (_M_TOP_PAD, 64 << 20),  # and grown 64 MiB at a time
)
OPERATOR_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def keep_freed_memory(environ: Mapping[str, str] = os.environ) -> bool:
    """Tune glibc's allocator for request-sized buffers; True if it was done. Never raises."""
    if any(name in environ for name in OPERATOR_VARIABLES):
        return False
    try:
        libc_name = ctypes.util.find_library("c")
        if libc_name is None:
            return False
        libc = ctypes.CDLL(libc_name)
        mallopt = getattr(libc, "mallopt", None)
        if mallopt is None:  # not glibc (musl has no mallopt)
            return False
        return all(mallopt(option, value) == 1 for option, value in _SETTINGS)
    except OSError:
        logger.warning("could not tune the memory allocator; continuing without", exc_info=True)
        return False
