"""The ``contact`` schema."""

from __future__ import annotations

from typing import Annotated

import msgspec

from packs.core.schemas import Schema

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+(?![\s\S])"
r"""An email address. It ends with ``(?![\s\S])`` (no character follows), not ``$``: Python's ``$`` (msgspec
searches with ``re``) also matches before a final line break, and a client's JSON Schema validator reads the
same pattern (ECMA regexes have no ``\Z``)."""
TOO_LONG = "is too long (maximum is 255 characters)"

Text = Annotated[str, msgspec.Meta(max_length=255, extra={"message": TOO_LONG})]
Email = Annotated[
    str,
    msgspec.Meta(
        max_length=320,
        pattern=EMAIL_PATTERN,
        extra_json_schema={"format": "email"},
        extra={"message": "is not a valid email address (expected local@domain.tld)"},
    ),
]
Tag = Annotated[str, msgspec.Meta(max_length=100, extra={"message": "holds a tag over 100 characters"})]


class Contact(Schema):
    """A person in a workspace's address book."""

    slug = "contact"
    title = "Contact"
    description = "A person in a workspace's address book."

    first_name: Text
    last_name: Text
    email: Email | None = None
    phone: Text | None = None
    company: Text | None = None
    job_title: Text | None = None
    tags: list[Tag] = msgspec.field(default_factory=list)
