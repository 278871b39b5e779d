"""Room 1: documents read verbatim into structure, references and `Passage`s."""
