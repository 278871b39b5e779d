"""Room 3: a question read once (`QueryAnalysis`), then ranked passages from a backend."""
