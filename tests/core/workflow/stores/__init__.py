"""Tests of the workflow stores (packs/core/workflow/stores): the store contract, the SQL store, its migration."""
