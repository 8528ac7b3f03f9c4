"""The contacts tools, by the names workflows call them (``packs.contacts_service.tools.Create``)."""

from packs.contacts_service.tools.create import Create
from packs.contacts_service.tools.destroy import Destroy
from packs.contacts_service.tools.index import Index
from packs.contacts_service.tools.show import Show
from packs.contacts_service.tools.update import Update

__all__ = ["Create", "Destroy", "Index", "Show", "Update"]
