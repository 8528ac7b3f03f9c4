"""The operations console: its pages and forms over HTTP, and in a real browser."""
