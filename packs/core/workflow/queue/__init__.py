"""Queued execution: workers, adapters, the async runner, recovery, control and the catalog of definitions."""
