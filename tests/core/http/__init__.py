"""Tests of the core HTTP layer (packs/core/http): resources, identity, /me, bad input and the OpenAPI document."""
