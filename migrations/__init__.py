"""The Alembic environment of the core tables (env.py, script.py.mako) and its versions/."""
