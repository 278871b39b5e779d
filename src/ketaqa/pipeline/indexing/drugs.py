"""Which words name a drug, and which one: a brand or a British name read as its generic
("lignocaine" lidocaine, "Spravato" esketamine, "Prozac" fluoxetine).

A question about a drug the statement never mentions ("lignocaine infusion rate", "ketamine
with fluoxetine") has every other word covered, and a missing word is as often shorthand or a
typo as a drug: nothing the verdict measures tells them apart. A drug dictionary does. The
names come from drug-named-entity-recognition (MIT), which ships a dictionary of DrugBank,
MeSH, MedlinePlus and NHS names with its package; nothing is fetched.

Only single words that name one substance are kept: a canonical name with a DrugBank or
MedlinePlus identifier (not MeSH classes such as "Neurotransmitter Agents" or "Receptors,
Adrenergic"), of letters and at most one hyphen ("s-ketamine"), and a brand name only when
general English does not use it as a word (Zipf below 3: not "Armour" or "Fargo").

Unpickling the package's dictionary and filtering it takes about a second, so `ketaqa index`
saves the table as JSON in the index folder, with the SHA-256 of the file it was made from; a
question reads the saved table (about 20 ms, once per process, and only when it has a missing
word). A table missing, damaged or made from other data is made again in memory, slower.
"""

from __future__ import annotations

import bz2
import functools
import importlib.util
import json
import logging
import pickle
import re
import threading
from pathlib import Path

from ketaqa.files import CHECKSUMS_FILE, sha256_file_memo, write_atomic
from ketaqa.progress import Progress, quiet

log = logging.getLogger(__name__)

TABLE_FILE = "drug-names.json"
TABLE_FORMAT = 1
PACKAGE = "drug_named_entity_recognition"
DICTIONARY = "drug_ner_dictionary.pkl.bz2"
# a brand name as common as this in English (Zipf) is an ordinary word first
BRAND_BELOW_ZIPF = 3.0
_NAME = re.compile(r"[a-z]+(-[a-z]+)?")
_SUBSTANCE_IDS = ("drugbank_id", "medline_plus_id")


def dictionary_file() -> Path | None:
    """The package's dictionary, found without importing the package (its import unpickles
    the dictionary and reads a cache in the home folder)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / DICTIONARY
    return path if path.is_file() else None


@functools.lru_cache(maxsize=2)
def drug_table(source: Path) -> dict[str, str]:
    """{name as typed, lower case: its generic name} for the single-word names of one
    substance (see the module's docstring). Made once per process and dictionary file."""
    from wordfreq import zipf_frequency

    with bz2.open(source, "rb") as fh:
        data = pickle.load(fh)  # the package's own data file, the format it ships in
    substances = data["drug_canonical_to_data"]
    table = {}
    for variant, canonicals in data["drug_variant_to_canonical"].items():
        generic = canonicals[0] if canonicals else ""
        if not _NAME.fullmatch(variant) or len(variant) < 4:
            continue
        if not any(k in substances.get(generic, {}) for k in _SUBSTANCE_IDS):
            continue
        if variant != generic and zipf_frequency(variant, "en") >= BRAND_BELOW_ZIPF:
            continue
        table[variant] = generic
    return table


def table_status(index_dir: Path) -> str:
    """ "ok", "missing", "stale: …" or "damaged: …" for the saved table."""
    return _saved_table(index_dir)[0]


def _saved_table(index_dir: Path) -> tuple[str, dict[str, str] | None]:
    """The saved table's status and, when "ok", its names: read and parsed once."""
    path = Path(index_dir) / TABLE_FILE
    if not path.exists():
        return "missing", None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        ok = saved["format"] == TABLE_FORMAT and isinstance(saved["names"], dict)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"damaged: {exc}", None
    if not ok:
        return "damaged: not a drug-name table of this format", None
    source = dictionary_file()
    memo = Path(index_dir) / CHECKSUMS_FILE
    if source is None or sha256_file_memo(source, memo) != saved.get("source_sha256"):
        return "stale: made from another dictionary", None
    return "ok", saved["names"]


def ensure_drug_table(index_dir: Path, progress: Progress = quiet) -> bool:
    """Save the table unless a current one is there. False (with a message) when it cannot
    be saved: it only saves time, questions then make it in memory."""
    status = table_status(index_dir)
    if status == "ok":
        return True
    source = dictionary_file()
    if source is None:
        progress(f"drug names: {PACKAGE} is not installed; drugs are not recognised")
        return False
    progress(f"drug-name table {status}; saving it")
    try:
        payload = {
            "format": TABLE_FORMAT,
            "source_sha256": sha256_file_memo(source, Path(index_dir) / CHECKSUMS_FILE),
            "names": drug_table(source),
        }
        write_atomic(Path(index_dir) / TABLE_FILE, json.dumps(payload, sort_keys=True))
    except OSError as exc:
        progress(f"cannot save the drug-name table ({exc}); questions will make it")
        return False
    return True


class DrugNames:
    """`names(word)`: the generic name of the drug a lower-case word names, or None. Read on
    first use from the table `ketaqa index` saved, else made from the package."""

    def __init__(self, index_dir: Path):
        self.index_dir = Path(index_dir)
        self._names: dict[str, str] | None = None
        self._lock = threading.Lock()  # the app's worker threads share one reader

    def __call__(self, word: str) -> str | None:
        if self._names is None:
            with self._lock:
                if self._names is None:
                    self._names = self._load()
        return self._names.get(word)

    def _load(self) -> dict[str, str]:
        status, names = _saved_table(self.index_dir)
        if names is not None:
            return names
        source = dictionary_file()
        if source is None:
            log.warning("drug names: %s is not installed; drugs are not recognised", PACKAGE)
            return {}
        log.warning("drug-name table %s; reading the dictionary (run `ketaqa index`)", status)
        return drug_table(source)  # shared: never changed by a reader
