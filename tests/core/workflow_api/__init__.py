"""Tests of the app side of workflows (packs/core/workflow_api): the HTTP API, failures, idempotency, event streams."""
