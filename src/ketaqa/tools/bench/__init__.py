"""`ketaqa bench`: how fast, how big and how hungry ketaqa is, beside a plain BM25 baseline.

Every figure is measured in the same run as its baseline and reported as a ratio to it. The
baseline is what one would write first: rank-bm25's `BM25Okapi` over the same passages, with
`str.split` tokenisation, no dense vectors, no highlights.

Sections (bench.json and bench.md under eval/reports/bench-<date>/), one module each:

- warm_query   (`warm`) in-process `Assistant.ask` latency (p50/p95) over the curated questions,
               and each stage timed by calling the retriever's public pieces: tokenise, bm25,
               encode, faiss, fuse, highlight
- cold_ask     (`cold`) `ketaqa ask` in a new process, with the index present
- build        (`build`) `build_index` on the corpus (a cut of it with --quick), and the ONNX export
- memory       (`cold`) peak RSS of a process that loads the assistant and answers the questions
- scale        (`scale`) synthetic corpora of 10k and 100k passages recombined from the real
               corpus' sentences: build time, size on disk, query p50 through `HybridRetriever`,
               and the approximate FAISS index (HNSW, `DenseIndexSettings`) with its recall@10
               against exact search.

`run` puts the sections together and writes the report; `report` renders the Markdown. The
child processes are modules of their own (`baseline`, `fast_ask`, `memory`), run with
`python -m`. Times are measured, never asserted: they depend on the machine and on what else it
is doing (the load average is recorded beside them).

This `__init__` imports nothing, so the baseline child process loads only what it measures.
"""
