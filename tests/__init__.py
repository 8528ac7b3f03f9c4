"""The test suite, laid out as the source: app/, core/ (http, workflow, workflow_api), contacts/; support/ is shared."""
