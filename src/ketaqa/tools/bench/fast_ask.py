"""Child process: `ketaqa ask` as it should run, through the ONNX query encoder when the index is
current; prints the answer's JSON.

`python -m ketaqa.tools.bench.fast_ask QUESTION`
"""

from __future__ import annotations

import json
import sys

from ketaqa.config import Settings
from ketaqa.pipeline.answering.assistant import Assistant
from ketaqa.pipeline.indexing.fast_encoder import query_encoder
from ketaqa.pipeline.indexing.index import index_status


def main(question: str) -> None:
    settings = Settings.from_env()
    encoder = query_encoder(settings.index_dir) if index_status(settings) == "ok" else None
    assistant = Assistant.open(settings, encoder=encoder)
    print(json.dumps(assistant.ask(question).to_json()))


if __name__ == "__main__":
    main(sys.argv[1])
