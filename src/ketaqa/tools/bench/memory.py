"""Child process: load the assistant, answer every question, print the peak RSS as JSON.

`python -m ketaqa.tools.bench.memory query|torch < QUESTIONS_JSON_LIST` (on stdin, like
`baseline`: the list is longer than one argument may be)
"""

from __future__ import annotations

import json
import sys

from ketaqa.config import Settings
from ketaqa.pipeline.answering.assistant import Assistant
from ketaqa.pipeline.indexing.embedding import Encoder, TextEncoder
from ketaqa.pipeline.indexing.fast_encoder import query_encoder
from ketaqa.pipeline.indexing.index import load_index
from ketaqa.tools.bench.figures import TOP_K
from ketaqa.tools.bench.rss import peak_rss_kb


def main(encoder_kind: str, questions: list[str]) -> None:
    settings = Settings.from_env()
    encoder: TextEncoder = (
        Encoder() if encoder_kind == "torch" else query_encoder(settings.index_dir)
    )
    assistant = Assistant(settings, encoder, load_index(settings))
    for q in questions:
        assistant.ask(q, top_k=TOP_K)
    print(json.dumps({"peak_rss_kb": peak_rss_kb(), "encoder": getattr(encoder, "kind", "torch")}))


if __name__ == "__main__":
    main(sys.argv[1], json.load(sys.stdin))
