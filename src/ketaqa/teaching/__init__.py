"""Educators' teaching sets: records, the store and the exporters."""
