"""Room 2: passages turned into a saved index (BM25 tokens, vectors, manifest), and loaded back."""
