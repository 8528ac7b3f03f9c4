"""packflow-deals: an example Packflow pack (a sales pipeline of deals)."""
