"""Configuration in one typed place, overridable by environment variables and CLI flags."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TUNED_SETTINGS_FILE = REPO_ROOT / "eval" / "tuned_settings.json"

MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 50


@dataclass(frozen=True)
class RetrievalSettings:
    """Knobs that change rankings; saved in the index manifest and tuned by `ketaqa eval --tune`."""

    fusion: str = "weighted"  # "rrf" or "weighted"
    rrf_k: int = 60
    dense_weight: float = 0.5  # weight of the dense score in the weighted fusion
    bm25_variant: str = "okapi"  # "okapi" | "plus" | "l"
    candidates: int = 50  # per retriever, before fusion
    entry_prior: float = 0.8  # bibliography entries' weight unless a publication is looked up
    abstain_threshold: float = 0.35  # below this answer confidence, `answerable` is false

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = REPO_ROOT / "corpus"
    index_dir: Path = REPO_ROOT / "index"
    data_dir: Path = REPO_ROOT / "data"
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Defaults, then the tuned file checked into eval/, then KETAQA_* variables."""
        env = dict(os.environ if env is None else env)
        settings = cls(retrieval=load_tuned_retrieval(TUNED_SETTINGS_FILE))
        paths = {
            "corpus_dir": env.get("KETAQA_CORPUS_DIR"),
            "index_dir": env.get("KETAQA_INDEX_DIR"),
            "data_dir": env.get("KETAQA_DATA_DIR"),
        }
        return replace(settings, **{k: Path(v) for k, v in paths.items() if v})

    def with_retrieval(self, **changes: object) -> Settings:
        return replace(self, retrieval=replace(self.retrieval, **changes))


def load_tuned_retrieval(path: Path) -> RetrievalSettings:
    """Read the settings chosen on the dev split; fall back to defaults when absent."""
    if not path.exists():
        return RetrievalSettings()
    data = json.loads(path.read_text(encoding="utf-8"))
    known = set(RetrievalSettings.__dataclass_fields__)
    return RetrievalSettings(**{k: v for k, v in data.get("retrieval", {}).items() if k in known})
