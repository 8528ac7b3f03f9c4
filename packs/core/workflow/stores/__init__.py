"""Where executions are kept: the store protocol, the memory store and the SQL store (``stores.sql``)."""

from packs.core.workflow.stores.memory import MemoryStore
from packs.core.workflow.stores.protocol import ExecutionFilter, Keyset, Page, QueueStore, Store

__all__ = ["ExecutionFilter", "Keyset", "MemoryStore", "Page", "QueueStore", "Store"]
