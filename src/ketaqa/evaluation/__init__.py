"""Retrieval and answer evaluation against the curated question set."""
