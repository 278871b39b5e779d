"""Filling the abstract cache: PubMed client, fetch, import, status.

Reading the cache is `ketaqa.pipeline.documents.abstract_corpus`: the index must not depend
on this package.
"""
