"""Tests of the workflow engine (packs/core/workflow): the engine itself here, its layers in the folders below."""
