"""Tests of queued execution (packs/core/workflow/queue): async runner, worker, leases, recovery."""
