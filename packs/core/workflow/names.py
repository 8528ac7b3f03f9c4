"""What a name given as text may hold: a signal's (a ``receive`` step's, a sender's), a workspace's.

A name is shown on one line and compared as written, so it holds no control character nor line or
paragraph separator (:func:`has_control_character`). A signal name is also 1 to
:data:`MAX_SIGNAL_NAME_LENGTH` characters, not all whitespace (:func:`signal_name_problem`): the
workflow loader checks a ``receive`` step's ``signal`` with it, the API and the CLI a sender's
(docs/http-api.md, Signals).
"""

from __future__ import annotations

import unicodedata

CONTROL_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
"""The Unicode categories of control characters and of the line and paragraph separators (U+2028, U+2029)."""

MAX_SIGNAL_NAME_LENGTH = 200


def has_control_character(text: str) -> bool:
    """Whether ``text`` holds a control character or a line or paragraph separator (a name must not)."""
    return any(unicodedata.category(character) in CONTROL_CATEGORIES for character in text)


def signal_name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a signal's name, or ``None``."""
    if not name.strip():
        return "must not be empty or only whitespace"
    if len(name) > MAX_SIGNAL_NAME_LENGTH:
        return f"must be 1 to {MAX_SIGNAL_NAME_LENGTH} characters, got {len(name)}"
    if has_control_character(name):
        return "must not contain control characters (line breaks, tabs, ...)"
    return None
