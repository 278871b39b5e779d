"""Cited abstracts: the local cache, the PubMed client, fetch, import and status."""
