"""Tests of the workflow language (packs/core/workflow/language): validation, references, conditions, transforms."""
