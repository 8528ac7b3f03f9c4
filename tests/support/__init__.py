"""What the tests share and import: the app harness, databases, subprocess and worker helpers, wheels."""
