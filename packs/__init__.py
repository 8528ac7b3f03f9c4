"""The packs shipped in this distribution: core (what every pack builds on) and contacts_service."""
