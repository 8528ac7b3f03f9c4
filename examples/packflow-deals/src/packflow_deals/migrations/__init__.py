"""The example pack's Alembic version folder (register_migrations), tracked in alembic_version_deals."""
