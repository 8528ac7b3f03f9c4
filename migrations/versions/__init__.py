"""The core's Alembic revisions, applied by packflow database upgrade and on start."""
