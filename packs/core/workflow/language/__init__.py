"""The workflow language: the document, loader, validation, references, conditions, transforms, input checks.

Everything here runs at load time (input checks also when a run starts or resumes)."""
