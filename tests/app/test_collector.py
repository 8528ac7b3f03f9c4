"""The garbage collector while the app or a worker runs (``PACKFLOW_GC_TUNING``, app/collector.py)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import collector, create_app
from app.queue import worker_hooks
from app.settings import Settings
from packs.core import workflow as wf
from packs.core.testing import started


@pytest.fixture(autouse=True)
def collector_as_found() -> Iterator[tuple[int, int, int]]:
    """Each test starts with nothing frozen and leaves the collector as it found it."""
    collector.unsettle()
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    yield before
    collector.unsettle()
    gc.set_threshold(*before)


def settings(tmp_path: Path, **environ: str) -> Settings:
    return Settings.from_env({"PACKFLOW_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}", **environ})


async def test_a_started_app_freezes_what_startup_built_until_it_stops(
    tmp_path: Path, collector_as_found: tuple[int, int, int]
) -> None:
    app = create_app(settings(tmp_path))
    async with started(app):
        assert gc.get_freeze_count() > 10_000  # modules, SQLAlchemy's and Litestar's tables, the packs
        assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, *collector_as_found[1:])
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == collector_as_found


async def test_gc_tuning_off_leaves_the_collector_alone(
    tmp_path: Path, collector_as_found: tuple[int, int, int]
) -> None:
    app = create_app(settings(tmp_path, PACKFLOW_GC_TUNING="false"))
    async with started(app):
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == collector_as_found


@pytest.mark.parametrize("gc_tuning", [True, False])
async def test_a_ready_worker_freezes_what_startup_built_until_it_stops(
    gc_tuning: bool, collector_as_found: tuple[int, int, int]
) -> None:
    store = wf.MemoryStore()
    worker = wf.Worker(store)
    sweeper = wf.RecoverySweeper(store, wf.InlineAdapter(worker))
    startup, shutdown = worker_hooks(worker, sweeper, gc_tuning=gc_tuning)
    await startup({})
    try:
        assert (gc.get_freeze_count() > 0) is gc_tuning
        young = collector.YOUNG_THRESHOLD if gc_tuning else collector_as_found[0]
        assert gc.get_threshold() == (young, *collector_as_found[1:])
    finally:
        await shutdown({})
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == collector_as_found


def test_settle_twice_then_unsettle_restores_the_thresholds_of_before(
    collector_as_found: tuple[int, int, int],
) -> None:
    assert collector.settle() > 0
    assert collector.settle() > 0
    assert gc.get_threshold()[0] == collector.YOUNG_THRESHOLD
    collector.unsettle()
    assert gc.get_threshold() == collector_as_found
    assert gc.get_freeze_count() == 0


def test_frozen_cycles_are_collectable_again_after_unsettle() -> None:
    class Cycle:
        def __init__(self) -> None:
            self.me = self

    alive = [Cycle()]
    gone = weakref.ref(alive[0])
    collector.settle()
    alive.clear()  # garbage now, but frozen: no collection walks it
    gc.collect()
    assert gone() is not None
    collector.unsettle()
    gc.collect()
    assert gone() is None


def test_settled_settles_for_the_block_only(collector_as_found: tuple[int, int, int]) -> None:
    with collector.settled() as frozen:
        assert frozen > 0
        assert gc.get_threshold()[0] == collector.YOUNG_THRESHOLD
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == collector_as_found
