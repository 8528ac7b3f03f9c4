"""``packs.core`` is the one import a pack author needs: its re-exports are the real objects."""

from __future__ import annotations

import importlib

import pytest

import packs.core
from packs.core import _EXPORTS


@pytest.mark.parametrize(("name", "module"), sorted(_EXPORTS.items()))
def test_each_re_export_is_the_object_of_its_module(name: str, module: str) -> None:
    assert getattr(packs.core, name) is getattr(importlib.import_module(module), name)


def test_all_lists_every_re_export_and_the_marker() -> None:
    assert sorted(packs.core.__all__) == sorted(["PROJECT_NAME", "hookimpl", *_EXPORTS])


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"module 'packs\.core' has no attribute 'Toool'"):
        _ = packs.core.Toool  # type: ignore[attr-defined]


def test_the_marker_is_the_one_the_hook_specifications_use() -> None:
    from app import hookspecs

    assert packs.core.hookimpl is hookspecs.hookimpl
