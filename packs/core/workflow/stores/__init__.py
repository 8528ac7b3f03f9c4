"""Where executions are kept: the store protocol, the memory store and the SQL store (``stores.sql``)."""
