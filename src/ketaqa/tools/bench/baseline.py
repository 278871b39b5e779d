"""Child process: the plain BM25 baseline, cold. Loads passages.json, answers each question, prints
the top five passage ids per question and then its peak RSS.

`python -m ketaqa.tools.bench.baseline PASSAGES_JSON < QUESTIONS_JSON_LIST`

The questions come on stdin: a list of 1248 questions is more than one argument may hold
(Linux caps each at 128 KiB).
"""

from __future__ import annotations

import json
import sys

import numpy as np
from rank_bm25 import BM25Okapi

from ketaqa.tools.bench.rss import peak_rss_kb


def main(passages_file: str, questions: list[str]) -> None:
    with open(passages_file, encoding="utf-8") as f:
        passages = json.load(f)
    bm25 = BM25Okapi([p["text"].split() for p in passages])
    for q in questions:
        scores = bm25.get_scores(q.split())
        top = np.argsort(-scores, kind="stable")[:5]
        print(json.dumps([passages[i]["id"] for i in top]))
    print(json.dumps({"peak_rss_kb": peak_rss_kb()}))


if __name__ == "__main__":
    main(sys.argv[1], json.load(sys.stdin))
