"""A pack that registers the ``contact`` schema slug, which contacts_service owns."""

from packs.core import hookimpl
from packs.core.schemas import Schema


class OtherContact(Schema):
    slug = "contact"
    name: str


@hookimpl
def register_schemas() -> list[type[Schema]]:
    return [OtherContact]
