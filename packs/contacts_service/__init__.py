"""The contacts_service pack: contacts in a workspace's address book (feature ``workspaces/contacts``)."""
