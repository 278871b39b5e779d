"""The stages from corpus to answer, in four rooms read in this order; nothing here imports a
front end, and no room imports a later one.

- `documents`: reading files, structure, bibliography, passages, abstracts as passages;
- `indexing`: tokenizer, encoders, English word table, index build and load;
- `search`: the question reader, BM25, fusion, priors, backends;
- `answering`: verdict, answer, source evidence, the assistant.
"""
