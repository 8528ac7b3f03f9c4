"""Packs the tests enable (pftest_*), installed through a real packflow.packs entry point (see conftest.py)."""
