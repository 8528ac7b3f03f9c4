"""The garbage collector's settings while the app or a worker runs (README, Settings: ``PACKFLOW_GC_TUNING``).

Startup leaves about 180,000 long-lived objects behind (modules, SQLAlchemy's and Litestar's tables, the
packs). CPython's full collections walk every one of them, and with its default young threshold (700
allocations) a busy worker made one every second or so: measured on a worker firing 10,000 durable
timers, a fifth of its time went to the collector. :func:`settle` moves what startup built into the
permanent generation (:func:`gc.freeze`), where no collection walks it, and collects young objects every
:data:`YOUNG_THRESHOLD` allocations; :func:`unsettle` puts both back when the process stops serving (a
test suite that starts many apps in one process frees each one's cycles again).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

YOUNG_THRESHOLD = 10_000
"""Allocations between collections of the youngest generation while settled (CPython's default: 700)."""

logger = logging.getLogger("packflow.collector")


@dataclass
class _Settled:
    threshold: tuple[int, int, int] | None = None
    """The thresholds :func:`settle` replaced, while settled."""


_state = _Settled()


def settle() -> int:
    """Freeze the objects alive now and raise the young threshold; how many objects were frozen.

    Call it once startup is done. A second call before :func:`unsettle` freezes what was built since and
    keeps the first call's thresholds to restore.
    """
    gc.freeze()  # no collection first: startup leaves a few hundred garbage objects, and a full one costs ~80 ms
    if _state.threshold is None:
        _state.threshold = gc.get_threshold()
        _, middle, old = _state.threshold
        gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    frozen = gc.get_freeze_count()
    logger.debug(
        "garbage collector: %d objects of startup frozen, young collections every %d allocations",
        frozen,
        YOUNG_THRESHOLD,
    )
    return frozen


def unsettle() -> None:
    """Undo :func:`settle`: the frozen objects are collectable again and the thresholds are CPython's before."""
    gc.unfreeze()
    if _state.threshold is not None:
        gc.set_threshold(*_state.threshold)
        _state.threshold = None


@contextmanager
def settled() -> Iterator[int]:
    """:func:`settle` for the block (it gets how many objects were frozen), :func:`unsettle` after it: code that
    runs the engine outside the app, a benchmark say, collects as the app's processes do."""
    try:
        yield settle()
    finally:
        unsettle()
