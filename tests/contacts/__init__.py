"""Tests of the contacts_service pack (packs/contacts_service): its HTTP routes and tools."""
