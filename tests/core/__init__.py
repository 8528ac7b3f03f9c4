"""Tests of the core pack (packs/core): its re-exports, registries, tools, unit of work and pytest plugin."""
