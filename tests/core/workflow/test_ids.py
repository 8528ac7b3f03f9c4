"""The engine's ids (``packs.core.workflow.model.new_id``): version-4 UUID texts, unique, also across a fork."""

from __future__ import annotations

import os
import uuid

from packs.core.workflow.model import new_id


def test_ids_are_random_version_4_uuids() -> None:
    ids = [new_id() for _ in range(5000)]  # over the pool of one read of the random source
    assert len(set(ids)) == len(ids)
    for text in ids[:300]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_a_forked_process_never_hands_out_the_ids_its_parent_will() -> None:
    new_id()  # the pool holds ids not handed out yet
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child process
        os.close(reading)
        os.write(writing, ",".join(new_id() for _ in range(10)).encode())
        os._exit(0)
    os.close(writing)
    with os.fdopen(reading) as pipe:
        childs = set(pipe.read().split(","))
    os.waitpid(child, 0)
    parents = {new_id() for _ in range(10)}
    assert len(childs) == 10
    assert not childs & parents
