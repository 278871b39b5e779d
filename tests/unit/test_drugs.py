"""Drug names from drug-named-entity-recognition's shipped dictionary: which words name a
drug, read as its generic; saved by `ketaqa index`, remade when missing or damaged."""

import pytest

from ketaqa.pipeline.indexing.drugs import (
    TABLE_FILE,
    DrugNames,
    dictionary_file,
    drug_table,
    ensure_drug_table,
    table_status,
)


@pytest.fixture(scope="module")
def names():
    source = dictionary_file()
    assert source is not None, "drug-named-entity-recognition is a dependency"
    return drug_table(source)


def test_brands_and_british_names_read_as_the_generic(names):
    assert names["lignocaine"] == "lidocaine"
    assert names["lidocaine"] == "lidocaine"
    assert names["prozac"] == "fluoxetine"
    assert names["spravato"] == "esketamine"
    assert names["ketamine"] == "ketamine"


def test_classes_and_brands_that_are_ordinary_words_are_not_drugs(names):
    # MeSH classes and receptors have no DrugBank or MedlinePlus identifier
    for word in ("neurotransmitter", "adrenoceptors", "opioids", "benzodiazepines"):
        assert word not in names, word
    # a brand name that general English uses as a word ("Armour" thyroid) means the word
    assert "armour" not in names
    # nor is anything that is not one word of letters
    assert all(w.replace("-", "").isalpha() and w.count("-") <= 1 for w in names)


def test_the_saved_table_is_read_and_a_damaged_one_is_remade(tmp_path):
    assert table_status(tmp_path) == "missing"
    assert ensure_drug_table(tmp_path)
    assert table_status(tmp_path) == "ok"
    assert DrugNames(tmp_path)("lignocaine") == "lidocaine"
    (tmp_path / TABLE_FILE).write_text('{"format": 1, "names": [', encoding="utf-8")
    assert table_status(tmp_path).startswith("damaged")
    assert DrugNames(tmp_path)("fluoxetine") == "fluoxetine"  # made again in memory
    assert ensure_drug_table(tmp_path) and table_status(tmp_path) == "ok"
