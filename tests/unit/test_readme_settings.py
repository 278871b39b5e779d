"""The README states the tuned retrieval settings: the sentence must equal the tuned file and
the defaults in config.py, so the documentation cannot drift from what ranks."""

from __future__ import annotations

import json
import re

from ketaqa.config import REPO_ROOT, TUNED_SETTINGS_FILE, RetrievalSettings


def test_readme_states_the_tuned_settings():
    readme = re.sub(r"\s+", " ", (REPO_ROOT / "README.md").read_text(encoding="utf-8"))
    found = re.search(
        r"The defaults \((\w+) fusion, dense weight ([\d.]+), entry prior ([\d.]+), "
        r"population boost ([\d.]+), concept coverage ([\d.]+), answer type boost ([\d.]+), "
        r"study boost ([\d.]+)\)",
        readme,
    )
    assert found, "README.md no longer states the tuned defaults in the expected sentence"
    fusion, dense, prior, boost, coverage, answer_type, study = found.groups()
    tuned = json.loads(TUNED_SETTINGS_FILE.read_text(encoding="utf-8"))["retrieval"]
    defaults = RetrievalSettings()
    for source in (tuned, defaults.to_dict()):
        assert source["fusion"] == fusion
        assert source["dense_weight"] == float(dense)
        assert source["entry_prior"] == float(prior)
        assert source["population_boost"] == float(boost)
        assert source["concept_coverage"] == float(coverage)
        assert source["answer_type_boost"] == float(answer_type)
        assert source["study_boost"] == float(study)
