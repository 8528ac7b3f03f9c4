"""Packflow's composition root: ``create_app()`` is what ``litestar run`` finds."""

from app.server import create_app

__all__ = ["create_app"]
