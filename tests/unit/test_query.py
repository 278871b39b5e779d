"""Reading a typed question: the clinical lexicon, spelling fixes, concepts, populations.

Built on the real corpus (no model): the tokenizer and passages come from the statement.
"""

import json
import re

import pytest

from ketaqa.config import REPO_ROOT
from ketaqa.pipeline.documents.library import load_corpus
from ketaqa.pipeline.documents.passages import build_passages, listed_only_authors
from ketaqa.pipeline.indexing.embedding import general_vocabulary
from ketaqa.pipeline.indexing.tokenizer import build_tokenizer
from ketaqa.pipeline.search.populations import passage_populations
from ketaqa.pipeline.search.query import LEXICON_FILE, QueryReader, load_lexicon
from ketaqa.pipeline.search.question_form import ask_sentence
from ketaqa.pipeline.search.reading import without

STATEMENT = (REPO_ROOT / "corpus" / "position-statement.txt").read_text(encoding="utf-8")


def read_with(**extra) -> QueryReader:
    """A reader over the real corpus, as the assistant builds it, with `extra` readings."""
    corpus = load_corpus(REPO_ROOT / "corpus")
    passages = build_passages(corpus)
    tokenizer = build_tokenizer(p.text for p in passages)
    return QueryReader(
        tokenizer,
        [f"{p.section}\n{p.text}" for p in passages if p.kind != "entry"],
        general_vocabulary(),
        reference_texts=[p.text for p in passages if p.kind == "entry"],
        **extra,
    )


@pytest.fixture(scope="module")
def reader():
    return read_with()


@pytest.fixture(scope="module")
def reader_drugs(tmp_path_factory):
    """A reader that knows drug names, from the table `ketaqa index` saves."""
    from ketaqa.pipeline.indexing.drugs import DrugNames, ensure_drug_table

    folder = tmp_path_factory.mktemp("drugs")
    ensure_drug_table(folder)
    return read_with(drug_names=DrugNames(folder))


@pytest.fixture(scope="module")
def reader_listed():
    """A reader that knows which papers the statement only lists (as the assistant builds)."""
    corpus = load_corpus(REPO_ROOT / "corpus")
    passages = build_passages(corpus)
    references = {r.key: r for r in corpus.references}
    return read_with(listed_only_authors=listed_only_authors(passages, references))


def test_every_lexicon_target_is_in_the_statement():
    """An expansion the statement does not use would steer retrieval towards nothing."""
    text = STATEMENT.lower()
    lexicon = load_lexicon()
    for entry in lexicon.entries + lexicon.case_sensitive:
        for phrase in entry.statement:
            assert re.search(r"(?<![\w])" + re.escape(phrase) + r"(?![\w])", text), phrase
    data = json.loads(LEXICON_FILE.read_text(encoding="utf-8"))
    typed = [t.lower() for e in data["entries"] for t in e["typed"]]
    assert len(typed) == len(set(typed)), "a typed word maps in two places"


def test_nothing_maps_onto_a_topic_the_statement_does_not_cover():
    typed = {t for e in load_lexicon().entries for t in e.typed}
    for word in ("pregnancy", "pregnant", "renal", "kidney", "elderly", "breastfeeding"):
        assert word not in typed


@pytest.mark.parametrize(
    ("question", "reads_as"),
    [
        ("ketamine for a pt with schizophrenia", "psychoses"),
        ("raised ICP ok for ketamine?", "intracranial"),
        ("glaucoma and ketamine", "intraocular"),
        ("cirrhotic liver - ketamine?", "hepatic"),
        ("benzo premed before ketamine", "benzodiazepines"),
        ("kids ketamine dose", "paediatric"),
        ("IN ketamine for breakthrough pain", "intranasal"),
    ],
)
def test_lay_words_and_abbreviations_read_as_the_statement_says(reader, question, reads_as):
    analysis = reader.read(question)
    assert reads_as in analysis.search_text
    assert not analysis.missing_specific


def test_typos_are_fixed_against_the_corpus_but_real_words_are_not(reader):
    assert dict(reader.read("pain relief after ketamine infusoin").corrections) == {
        "infusoin": "infusion"
    }
    assert dict(reader.read("fibromyalga ketamine").corrections) == {"fibromyalga": "fibromyalgia"}
    assert dict(reader.read("ketamine glaucomma").corrections) == {"glaucomma": "glaucoma"}
    for question in ("is ketamine safe in pregnancy", "weaning opioids with ketamine"):
        assert reader.read(question).corrections == ()  # never "pregnancy" -> something else


def test_concepts_the_statement_never_mentions_are_named(reader):
    assert reader.read("Is ketamine safe in pregnancy?").missing_specific == ("pregnancy",)
    assert "lidocaine" in reader.read("lidocaine infusion rate").missing_specific
    assert "TGA" in reader.read("is esketamine approved by the TGA").missing_specific
    # everyday words are not concepts whose absence says anything
    assert reader.read("who wrote the Bell 2009 topical review").missing_specific == ()
    # words of the statement are mentioned, wherever they stand (headings included)
    assert reader.read("Orhurhu meta-analysis ketamine").missing_specific == ()
    # a word found only in the titles of cited papers is not something the statement covers,
    # unless the question looks up a publication
    assert reader.read("ketamine in psychiatry").missing_specific == ("psychiatry",)
    assert reader.read("ketamine in psychiatry", lookup=True).missing_specific == ()


def test_populations_are_read_from_the_question_and_the_passage(reader):
    assert "paediatric" in reader.read("paeds infusion rate").populations
    assert "psychoses" in reader.read("ketamine in pt with schizophrenia").populations
    assert "paediatric" in passage_populations("Aged 0-21 years", "Section I › D. Paediatric")
    assert not passage_populations("Infusion rate 0.1-0.5mg/kg/hr", "Section I › B")


def test_an_evidence_question_asks_for_the_evidence_grade(reader):
    assert "evidence grade" in reader.read("PHN ketamine evidence").populations
    assert "evidence grade" in reader.read("how strong is it for CRPS").populations
    # a kind of paper, or a look-up of one, does not ask how strong the evidence is
    assert "evidence grade" not in reader.read("the 2003 evidence-based review").populations
    assert "evidence grade" not in reader.read("thin evidence", lookup=True).populations
    assert "evidence grade" in passage_populations("there is weak evidence", "Section I")
    assert "evidence grade" not in passage_populations("N = 172", "Section I › evidence")


def test_words_that_frame_a_look_up_are_not_concepts(reader):
    analysis = reader.read("Which letter reported that propofol changes it?", lookup=True)
    typed = {c.typed for c in analysis.concepts}
    assert not typed & {"letter", "reported"}
    assert "propofol" in typed


def test_salience_probes_the_rarest_missing_concept(reader):
    analysis = reader.read("is procaine as good as any other analgesic for hiccups")
    probes = analysis.salience_probes()
    assert [typed for typed, _ in probes] == ["procaine"]  # rarer than "hiccups"
    assert "procaine" not in probes[0][1]
    assert [typed for typed, _ in analysis.salience_probes(limit=3)] == ["procaine", "hiccups"]
    probed = analysis.with_salience({"procaine": 0.3})
    assert probed.missing_salience == 0.3
    assert reader.read("ketamine for CRPS").salience_probes() == []


def test_ask_sentence_is_the_last_question_of_a_case_history():
    case = (
        "A 31-year-old woman with CRPS in her left foot is 14 weeks pregnant. Nothing else has "
        "helped. Is ketamine safe during pregnancy? Thanks."
    )
    assert ask_sentence(case) == "Is ketamine safe during pregnancy?"
    assert ask_sentence("Mr L, 58, has neuropathy. What does the statement advise.") == (
        "What does the statement advise."
    )
    assert ask_sentence("is ketamine safe in pregnancy?") == ""  # one sentence: all of it asks


def test_a_case_history_measures_salience_on_the_specific_word_its_ask_names(reader):
    case = reader.read(
        "A 31-year-old woman with CRPS in her left foot is 14 weeks pregnant. She has tried "
        "gabapentin and physiotherapy. Is ketamine safe during pregnancy?"
    )
    assert case.ask == "is ketamine safe during pregnancy?"
    assert case.salience_base == case.ask
    assert [typed for typed, _ in case.salience_probes()] == ["pregnancy"]
    # an ask of everyday words ("a reasonable candidate") leaves the measure on the whole text
    plain = reader.read(
        "A 71-year-old man with phantom pain has a cardiomyopathy. Is he a reasonable candidate?"
    )
    assert plain.salience_base == plain.search_text
    one = reader.read("is ketamine safe in pregnancy")
    assert one.ask == "" and one.salience_base == one.search_text


def test_a_case_history_names_what_its_ask_lacks_not_every_word_of_the_history(reader):
    case = reader.read(
        "A 31-year-old woman with CRPS in her left foot is 14 weeks pregnant. Nothing else has "
        "helped her pain. Is ketamine safe during pregnancy?"
    )
    assert {"woman", "foot", "helped"} <= set(case.missing_concepts)
    assert case.missing_named == ("pregnancy",)
    # an ask of everyday words: the history's specific words are named
    advise = reader.read(
        "A 62-year-old man with porphyria has phantom limb pain. He lives with his daughter. "
        "What does the statement advise?"
    )
    assert "porphyria" in advise.missing_named and "daughter" not in advise.missing_named
    one = reader.read("is ketamine used for hiccups in children")
    assert one.missing_named == one.missing_concepts == ("hiccups",)


def test_bm25_weighs_a_case_historys_ask_twice(reader):
    case = reader.read("A 44-year-old man has phantom limb pain. For how long does relief last?")
    assert case.lexical_text.count("how long does relief last") == 2
    one = reader.read("for how long does relief last")
    assert one.lexical_text == one.search_text


def test_without_removes_whole_words_only():
    assert without("IV magnesium (iv) for CRPS", "iv") == "magnesium ( ) for CRPS"
    assert without("ketamine and ketamines", "ketamine") == "and ketamines"


def test_illicit_drugs_read_as_the_substance_abuse_contraindication(reader):
    for question in ("current heroin use, ketamine?", "cocaine and ketamine infusions"):
        analysis = reader.read(question)
        assert "substance abuse" in analysis.populations, question
        assert not analysis.missing_concepts, question


def test_a_pattern_reads_a_family_of_phrasings(reader):
    """ "how does ketamine reduce/relieve/help ..." asks for the mechanism, whatever the verb;
    the same words about another drug do not, and the drug stays a missing concept."""
    for question in ("how does ketamine relieve pain", "why would it help", "how can it work"):
        assert "non-competitive antagonist" in reader.read(question).search_text, question
    other = reader.read("how does lidocaine relieve pain")
    assert "non-competitive antagonist" not in other.search_text
    assert "lidocaine" in other.missing_specific


def test_quantity_and_switch_words_are_not_missing_concepts(reader):
    assert reader.read("what proportion of kids had less pain").missing_concepts == ()
    assert "switching" not in reader.read("switching iv to oral ketamine").missing_concepts


def test_a_grade_of_a_word_the_statement_uses_is_that_word(reader):
    """ "lowest", "safest", "biggest" grade the statement's "low", "safe", "big": the grade is
    the question's form. A word English has no sibling grade for is not a grade ("user" is not
    "use"-er, "bother" not "both"-er), and a grade of a word the statement never uses stays
    missing."""
    from ketaqa.pipeline.search.query import graded_bases

    english = {"lower", "lowest", "safest", "bigger", "easiest"}.__contains__
    assert graded_bases("lowest", english) == ["low", "lowe"]
    assert "big" in graded_bases("biggest", english)
    assert "easy" in graded_bases("easier", english)
    assert graded_bases("user", english) == graded_bases("bother", english) == []
    assert graded_bases("interest", english) == []

    assert reader.read("lowest ketamine infusion dose").missing_concepts == ()
    assert reader.read("smallest and longest trials in the meta-analysis").missing_concepts == ()
    assert "cheapest" in reader.read("cheapest ketamine infusion").missing_concepts


def test_concept_terms_are_what_a_passage_must_hold(reader):
    """Per mentioned concept, the index terms of its readings (the coverage prior's input);
    a concept the statement never mentions has none."""
    analysis = reader.read("ketamine side effects in pregnancy")
    assert any(frozenset({"advers", "effect"}) in readings for readings in analysis.concept_terms)
    assert len(analysis.concept_terms) == sum(c.mentioned for c in analysis.concepts)


# Shorthand read from the statement's own words (search/shorthand.py). None of these tokens is
# in the lexicon: each rule must carry over to shorthand nobody listed.
@pytest.mark.parametrize(
    ("question", "typed", "read_as"),
    [
        ("wkly ketamine infusions?", "wkly", "weekly"),  # abbreviation (letters in order)
        ("midaz with ketamine", "midaz", "midazolam"),
        ("IN ketamine breakthru pain dose", "breakthru", "breakthrough"),
        ("ketamine and descending inhib", "inhib", "inhibition"),
        ("any trails of ketamine in CRPS", "trails", "trials"),  # swapped letters
        ("2019 ketamine MA", "MA", "meta-analysis"),  # two-letter acronym: a hyphenated word
        ("ketamine & CPM / descending inhib", "CPM", "conditioned pain modulation"),
        # a name only a bibliography entry writes, in capitals
        ("WHO ECDD ketamine update review meeting", "ECDD", "expert committee drug dependence"),
    ],
)
def test_shorthand_is_read_as_the_statements_words(reader, question, typed, read_as):
    analysis = reader.read(question)
    assert read_as in dict(analysis.expansions)[typed], analysis.expansions
    assert typed not in analysis.missing_concepts


def test_a_common_word_or_a_mixed_case_acronym_is_never_read_as_letters_of_one_word(reader):
    for question, typed in (
        ("CRPS of the right foot", "foot"),
        ("stopped two months ago", "ago"),
        ("wants q-monthly ketamine IVIs", "IVIs"),
    ):
        read = dict(reader.read(question).expansions)
        assert typed not in read and typed.lower() not in read, question


def test_a_long_unknown_name_stays_a_missing_concept_and_short_noise_is_unrecognised(reader):
    # a drug the statement never names is what a "not covered" verdict rests on
    assert "nortriptyline" in reader.read("nortriptyline dose for neuropathy").missing_specific
    assert "lidocaine" in reader.read("lidocaine infusion rate").missing_specific
    # a short rare token no rule reads is shown as unrecognised, not counted as missing
    analysis = reader.read("kapural pts baseline xqzt dose")
    assert analysis.unrecognised == ("xqzt",)
    assert "xqzt" not in analysis.missing_concepts


def test_a_slip_onto_a_real_word_is_read_only_beside_the_statements_neighbour(reader):
    # "phantom lime": one letter from "limb", which the lexicon and the statement write
    # beside "phantom"; read as the phrase, so it means what "phantom limb" means
    for typed in ("lime", "lamb"):
        analysis = reader.read(f"ketamine phantom {typed} pain")
        assert (typed, "limb") in analysis.corrections
        assert "phantom limb pain" in dict(analysis.expansions)["phantom limb"]
    # the same word with no such neighbour means itself, and stays a concept of its own
    analysis = reader.read("ketamine and lime juice")
    assert analysis.corrections == ()
    assert "lime" in analysis.missing_concepts


def test_a_slip_inside_a_lexicon_phrase_reads_as_the_phrase(reader):
    """ "hart" and "affects" are words a speller leaves alone; beside "failure" and "side" they
    are slips for the lexicon's "heart failure" and "side effects", which name a listed
    contraindication and the statement's adverse effects."""
    analysis = reader.read("pt w uncontrolled AF + hart failure - ok for ketamine infusion?")
    assert ("hart", "heart") in analysis.corrections
    assert "cardiovascular" in analysis.populations
    assert "hart" not in analysis.missing_concepts
    assert ("affects", "effects") in reader.read("side affects of ketamine infusions").corrections


def test_a_slip_onto_a_word_the_statement_never_uses_reads_as_its_pair_there(reader):
    """ "rat" is an English word the statement never uses; beside "infusion", whose neighbour
    in the statement is "rate", it is a slip for "rate", not a missing concept. The same word
    with no such neighbour means itself."""
    analysis = reader.read("quinlan sc ket infusion rat and how many days")
    assert ("rat", "rate") in analysis.corrections
    assert "rat" not in analysis.missing_concepts
    assert reader.read("a rat study of ketamine").corrections == ()


def test_a_word_that_sounds_like_the_statements_pair_is_read_as_it(reader):
    """ "pane" sounds like "pain" and stands beside "back", as "pain" does in the statement:
    a slip of the ear, not a missing concept. "Spares" has the consonants of "sprays" but three
    letters differ: it means itself. With no such neighbour "pane" means itself."""
    from ketaqa.pipeline.search.spelling import sounds_alike

    analysis = reader.read("would ketamine help chronic lower back pane?")
    assert ("pane", "pain") in analysis.corrections
    assert "pane" not in analysis.missing_concepts
    assert sounds_alike("cousens", "cousins") and not sounds_alike("spares", "sprays")
    assert reader.read("a cracked window pane and ketamine").corrections == ()


def test_a_word_english_knows_is_not_spelled_into_another_word(reader):
    """A typo keeps a word's first letters; a known word whose nearest corpus word starts
    otherwise is another word: atrial fibrillation is not a trial, voiding not avoiding."""
    for question, typed in (
        ("pt with uncontrolled atrial fibrillation - ketamine ok?", "atrial"),
        ("painful voiding after oral ketamine - what tests?", "voiding"),
        ("did the pain go into remission after ketamine?", "remission"),
    ):
        assert typed not in dict(reader.read(question).corrections), question
    # a misspelling that keeps its start is still fixed
    assert ("ketamin", "ketamine") in reader.read("ketamin for crps?").corrections


def test_a_truncated_common_word_is_read_only_where_the_question_points(reader):
    # Maher's review counts "4 retrospective studies"; "maher" points at that passage
    analysis = reader.read("maher 17 review - how many retro studies")
    assert dict(analysis.expansions)["retro"] == ("retrospective",)
    assert "retro" not in analysis.missing_concepts
    # without a pointer to a passage, a common word is not taken for the start of another
    assert "retro" not in dict(reader.read("retro style clinic music").expansions)


def test_a_paper_the_statement_only_lists_is_named_and_a_look_up_of_it_is_not(reader_listed):
    about = reader_listed.read("marchetti oral ket 5-yr series - mean daily dose?")
    assert about.listed_only == ("marchetti",) and about.asks_about_listed_only
    lookup = reader_listed.read("marchetti 2015 oral ketamine - which journal and vol/pp?")
    assert lookup.lookup and not lookup.asks_about_listed_only
    # a reported study's author (Maher 2017 is item B-1) is never "only listed"
    assert reader_listed.read("maher 2017 - infusion rates?").listed_only == ()


def test_an_acronym_with_two_equally_likely_phrases_is_not_guessed():
    from ketaqa.pipeline.search.shorthand import ShorthandReader

    shorthand = ShorthandReader(
        ["chronic pain management", "conditioned pain modulation"], frozenset(), lambda w: 0.0
    )
    assert shorthand.read("cpm", "CPM") is None
    chosen = shorthand.read("cpm", "CPM", ["modulation"])
    assert chosen is not None and chosen.words == ("conditioned pain modulation",)


def test_the_head_concept_is_the_most_specific_and_knows_whether_the_statement_has_it(reader):
    # the verdict asks whether the top passage states the head, not just any concept
    near_miss = reader.read("lidocaine infusion rate")
    assert near_miss.head == "lidocaine" and near_miss.head_missing
    answerable = reader.read("ketamine infusion rate in CRPS")
    assert not answerable.head_missing and answerable.head_terms


def test_populations_read_by_meaning_steer_ranking_but_stay_missing(reader):
    analysis = reader.read("methadone conversion in a schizoaffective pt")
    meant = analysis.with_meant_populations(["psychoses"])
    assert meant.meant_populations == ("psychoses",)
    assert "psychoses" not in meant.populations  # no contraindication verdict rests on it
    assert meant.missing_concepts == analysis.missing_concepts


def test_one_patient_is_read_after_the_spelling_fixes(reader):
    """A misspelt drug name must not hide that the question is about one patient: then the
    verdict never says "not covered" above the listed contraindications."""
    reading = reader.read("delusional disorder pt, poorly controled on meds - ok for ketamin?")
    assert ("ketamin", "ketamine") in reading.corrections
    assert reading.about_patient
    assert not reader.read("what are the contraindicatoins to ketamin?").about_patient


def test_one_patient_is_read_with_ketamine_in_any_shorthand(reader):
    """ "ktm" is ketamine to the shorthand reader; a question about giving it to one patient
    must be read as such, or the verdict could say "not covered" above the contraindications."""
    reading = reader.read("pt w uncontrolled AF + heart failure - ok for ktm infsn?")
    assert dict(reading.expansions)["ktm"] == ("ketamine",)
    assert reading.about_patient and reading.whether_to_treat


def test_a_question_identifying_a_publication_is_read_from_its_form():
    """Which paper, whether there is one, who wrote it: a look-up whose answer is a
    publication, whatever figure its wording carries. A case history's "who has had" is not.
    Phrasings written for this test."""
    from ketaqa.pipeline.search.question_form import identifies_publication

    for question in (
        "Which 1999 paper by Bell looked at low-dose ketamine?",
        "is there a paper in the reference list that tested this in children?",
        "who wrote the small-dose remifentanil study?",
        "what 2015 review pooled the oral trials?",
    ):
        assert identifies_publication(question), question
    for question in (
        "a woman who has had fibromyalgia for years: what dose does the paper recommend?",
        "what dose did the listed fibromyalgia trial give?",
    ):
        assert not identifies_publication(question), question


def test_a_drug_the_statement_never_mentions_is_read_as_one(reader_drugs):
    """ "lignocaine" is lidocaine, a drug the statement never names: the question asks about a
    concept the statement lacks, not in shorthand or with a typo. Phrasings written for this
    test."""
    assert reader_drugs.read(
        "lignocaine infusion rate for neuropathic pain"
    ).missing_treatments == ("lignocaine",)
    assert reader_drugs.read("ketamine with sertraline - any interaction?").missing_treatments == (
        "sertraline",
    )
    # a drug the statement names, under any of its names, is no missing drug
    assert reader_drugs.read("midazolam dose before a ketamine infusion").missing_treatments == ()
    assert reader_drugs.read("ketamine and clonidine co-administered?").missing_treatments == ()
    # a case history's drugs say who the patient is; its ask says what is asked
    history = "A 58-year-old man takes oxycodone and duloxetine for painful neuropathy."
    assert (
        reader_drugs.read(f"{history} Is a ketamine infusion reasonable?").missing_treatments == ()
    )
    assert reader_drugs.read(
        f"{history} Can duloxetine be continued during the infusion?"
    ).missing_treatments == ("duloxetine",)
    # a look-up may be answered by a listed paper whose title names the drug
    assert (
        reader_drugs.read("which paper tested ketamine against fluoxetine?").missing_treatments
        == ()
    )


def test_a_route_the_statement_never_mentions_is_read_as_one(reader):
    """A route of administration is a known concept: "IM ketamine" is not shorthand the
    statement could be read for. Capitals decide "IM" and "IT"; "it" is a pronoun."""
    assert reader.read("IM ketamine for a combative trauma patient?").missing_treatments == ("IM",)
    assert reader.read("intrathecal ketamine for labour pain?").missing_treatments == (
        "intrathecal",
    )
    assert reader.read("is it worth giving ketamine for CRPS?").missing_treatments == ()
    # routes the statement names are no missing concept
    assert reader.read("oral ketamine after the infusions - what dose?").missing_treatments == ()


def test_an_opening_label_that_says_who_asks_is_no_missing_concept(reader_drugs):
    """ "MCQ:", "For our governance register:", "A mum asked me:" describe the asker, not what
    is asked; a label with a statement concept, a drug, or before a question too short to stand
    alone names the topic and is read as asked."""

    def missing(question: str) -> tuple[str, ...]:
        return reader_drugs.read(question).missing_concepts

    asked = "in Sheehy's adolescent cohort, what share of infusions cut pain scores?"
    assert not {"mcq", "governance", "register"} & {m.lower() for m in missing(f"MCQ: {asked}")}
    assert "governance" not in missing(f"For our governance register: {asked}")
    assert missing(f"MCQ: {asked}") == missing(asked)
    assert "lithium" in missing("Lithium: interaction with ketamine in a neuropathic pain trial?")
    assert "porphyria" in missing("Porphyria: is ketamine safe?")
    assert "berman" in missing("Berman 2000: how fast did mood lift after one ketamine dose?")


def test_an_entry_lends_acronyms_of_its_names_only(reader):
    """An entry's capitalised names give acronyms ("ECDD"); its title's ordinary words do not
    ("after pediatric scoliosis" is no "APS")."""
    read = dict(reader.read("what did the APS trial after scoliosis surgery find?").expansions)
    assert "after pediatric scoliosis" not in read.get("APS", ())
