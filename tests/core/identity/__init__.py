"""Accounts (packs/core/identity): users, workspaces, memberships and tokens."""
