"""What a question's form says about it, whatever its topic: whether it looks up a
publication, names a kind of one, wants a figure or a date, or asks about one patient.

Each is read from wording that carries over to the next clinician ("how many", "who wrote",
"a 27-year-old woman"), never from the subject, so none needs a lexicon entry.
"""

from __future__ import annotations

import re

# Words that make a question look up a publication ("who wrote", "the PMID of", "which paper",
# and the parts of a citation: "vol/pp", "which issue", "who edited"):
# then bibliography entries are answers, and words found only there count as mentioned.
# "Who" looks up only as the subject of writing or running something ("who wrote", "who led the
# trial"); "who should not get ketamine" and "a man who injects heroin" ask about patients. A
# volume is a citation's when numbered or named with the journal ("vol 19", "journal, volume
# and pages"); "a volume knob" is not.
_LOOKUP_RE = re.compile(
    r"\b(papers?|articles?|publications?|published|journal|authors?|wrote|written|cited?|cites|"
    r"citation|references?|dois?|pmids?|pubmed|bibliography|listed|titled?|vol|pp|"
    r"pages|issue|edition|edit(ed|ors?))\b"
    r"|\bvolumes?\W*\d"
    r"|\bwho\b(\W+\w+){0,3}?\W+(wrote|writes|authored|published|edited|led|ran|conducted"
    r"|reported|drafted|prepared|did)\b",
    re.IGNORECASE,
)
# "Which 2005 review ...", "which rat study ...", "Is there a Cochrane review ...": a kind of
# publication named after "which" or "is there a". Such a question may be answered by a
# bibliography entry, so retrieval does not rank entries after the statement for it.
_PUBLICATION_KIND_RE = re.compile(
    r"\b(which|is there an?)\b(\W+\w+){0,4}?\W+(reviews?|stud(y|ies)|trials?|letters?|"
    r"commentar(y|ies)|editorials?|meta-analys[ie]s|documents?|reports?)\b"
    r"|\brefs?\b",
    re.IGNORECASE,
)


# The kind of answer a question wants, read from its form rather than its topic: a figure
# ("how many", "what dose", "how long", "trial size", "cut-off") or a date ("when", "what
# year"). A passage that carries that kind of answer (numerals, a year) is favoured
# (`priors.apply_answer_type_prior`).
_FIGURE_RE = re.compile(
    r"\bhow (many|much|long|often|big|large|old)\b|\bwhat age\b|\b(doses?|dosing|dosages?|"
    r"rates?|numbers?|sizes?|percent(ages?)?|proportions?|cut-?offs?|thresholds?|durations?|"
    r"ranges?|counts?|mg|mcg)\b",
    re.IGNORECASE,
)
_DATE_RE = re.compile(r"\bwhen\b|\b(what|which) year\b|\bdates?\b", re.IGNORECASE)
_YEAR_RE = re.compile(
    r"\b(19|20)\d\d\b|\b(january|february|march|april|may|june|july|august|september|"
    r"october|november|december)\b",
    re.IGNORECASE,
)
FIGURE, DATE, DOCUMENT = "figure", "date", "document"
# A question about this document itself (its title, contents, dates, disclaimer, scope), read
# from how it points at the document ("this doc", "the ketamine PS", "the contents list", "the
# front page"), never from a topic word. "The statement" alone is not enough ("what does the
# statement say about X" asks about X), nor is "what page" (it may ask about a cited paper).
_DOCUMENT_RE = re.compile(
    r"\b(this|the|that) (ket(amine)? )?(doc|document|ps|position statement|background paper)\b"
    r"|\bthis (statement|paper|publication)\b|\b(table of )?contents\b"
    r"|\bthis ([\w/&-]+ ){1,5}?(document|position statement|background paper|statement)\b"
    r"|\b(front|title|cover) page\b",
    re.IGNORECASE,
)
DOCUMENT_KINDS = ("title", "contents")  # name this document: never a look-up's answer
# the parts of a document that describe the document: its title, contents, epigraph and the
# back matter about it ("Document information": definitions, disclaimer, dates, copyright)
DOCUMENT_PART_KINDS = (*DOCUMENT_KINDS, "epigraph")


def about_this_document(text: str) -> bool:
    """Whether the question asks about the document itself rather than about ketamine."""
    return bool(_DOCUMENT_RE.search(text))


def answer_type(text: str) -> str:
    """The kind of answer a question wants: "date", "figure" or "" (any)."""
    if _DATE_RE.search(text):
        return DATE
    return FIGURE if _FIGURE_RE.search(text) else ""


# Kinds of answer a passage shows by its form whether it carries, so that a passage sharing
# every word of the question can still be seen not to answer it (`Answerer.gives_what_is_asked`):
# - a frequency: "how often should LFTs be checked", "obs freq", "q4h?" want a rate, an interval
#   or a share, which a passage states as "10.4%", "8/11", "mg/day", "daily", "every", "q6h";
# - an identifier: "the PMID of", "which DOI" want that identifier, which a passage gives as
#   "PMID" or as "doi" or a DOI's "10.nnnn/" prefix (a DOI is not a PMID);
# - persons, when the question asks who wrote this document itself ("the named authors of this
#   position statement", "who drafted this background paper"): a passage names persons as a
#   reference list does ("Bell RF,", "et al") or with a title ("Dr", "Professor"). Only for the
#   document itself: who wrote a cited paper is answered by its entry, or by a bullet that
#   reports it without the names;
# - a named statistical measure (an NNT, a standardised mean difference, a ratio, a confidence
#   interval, a P value, an effect size, heterogeneity): a passage gives one by naming it;
# - a dose ("what dose", "what clonidine dose", "the dose of midazolam", "how many mg"): a
#   passage gives one as an amount of drug ("0.5 mg/kg", "80 mg", "22 mg/h"). Read from a case
#   history's ask, since its history may name the patient's own doses. Not "higher doses for
#   longer" or "which page says dose", which ask whether or where, not how much, nor a dose
#   word joined to another as a modifier ("before starting a low-dose infusion").
FREQUENCY, PMID, DOI, PERSONS, DOSE = "frequency", "pmid", "doi", "persons", "dose"
_DOSE_ASKED = re.compile(
    r"\b(what|which|how much|usual|starting|recommended|max(imum)?|min(imum)?)\b"
    r"(\W+(?!(does|did|do|is|was|were|are|has|had|says?|said)\b)[\w-]+){0,2}?\W+"
    r"(?<!-)(doses?|dosages?|dosing)\b"
    r"|\b(doses?|dosages?|dosing) (of|for) (?!(ketamine|it|the|a|an|this|that|longer|more|less"
    r"|shorter)\b)[a-z]+|\bmg\b|\bmcg\b",
    re.IGNORECASE,
)
_MEASURES = {
    "nnt": r"\bnn[th]s?\b|\bnumbers? needed to (treat|harm)\b",
    "smd": r"\bsmds?\b|\bstandardi[sz]ed mean differences?\b",
    "ratio": r"\b(odds|risk|hazard|rate) ratios?\b|\brelative risks?\b",
    "confidence interval": r"\bconfidence intervals?\b|\b9[05]\s?% ?ci\b",
    "p value": r"\bp[- ]values?\b",
    "effect size": r"\beffect sizes?\b",
    "heterogeneity": r"\bheterogeneity\b|\bi ?(2|squared|²)\b",
}
_KINDS_ASKED = {
    FREQUENCY: re.compile(
        r"\bhow (often|frequently)\b|\bfreq(uency|uencies)?\b|(?<!confidence )\bintervals?\b"
        r"|\bq\s?\d+\s?h\b",
        re.IGNORECASE,
    ),
    PMID: re.compile(r"\bpmids?\b|\bpubmed (ids?|numbers?|identifiers?)\b", re.IGNORECASE),
    DOI: re.compile(r"\bdois?\b|\bdigital object identifiers?\b", re.IGNORECASE),
    PERSONS: re.compile(
        r"\b(who|which (individuals|people|persons|clinicians))\b[^?.]{0,40}?"
        r"\b(wrote|authored|drafted|prepared|chaired|edited|written)\b|\bauthors?(hip)?\b"
        r"|\bwriters?\b|\bwritten by\b|\bworking (group|party)\b|\bcommittee members\b"
        r"|\bnamed individuals\b",
        re.IGNORECASE,
    ),
    **{name: re.compile(pattern, re.IGNORECASE) for name, pattern in _MEASURES.items()},
}
_KINDS_GIVEN = {
    FREQUENCY: re.compile(
        r"\d\s*%|\bper ?cent\b|\b\d+\s*(/|of)\s*\d+\b|\bn\s*=|\bevery\b|\b(once|twice)\b"
        r"|\b(hourly|daily|weekly|monthly|yearly|annually|fortnightly|nightly)\b"
        r"|\btimes (a|per)\b|\b\d+\s*(times|x)\b|\bper (day|week|month|hour|year)\b"
        r"|/\s*(day|d|wk|week|month|hr|h|yr|year)\b|\bq\s?\d+\s?h\b",
        re.IGNORECASE,
    ),
    PMID: re.compile(r"\bpmid\b", re.IGNORECASE),
    DOI: re.compile(r"\bdoi\b|\b10\.\d{4,}/", re.IGNORECASE),
    PERSONS: re.compile(
        r"\b[A-Z][a-z'’-]+ [A-Z]{1,3}[,.]|\bet al\b|\b(Dr|Prof|Professor)\.? [A-Z][a-z]+"
    ),
    **{name: re.compile(pattern, re.IGNORECASE) for name, pattern in _MEASURES.items()},
    "p value": re.compile(_MEASURES["p value"] + r"|\bp\s*[=<>≤]", re.IGNORECASE),
    DOSE: re.compile(r"\d\s*(mg|mcg|[µμ]g|micrograms?|ml)\b|\bmg\s*/", re.IGNORECASE),
}


# Units of a measured value (pressures, concentrations, clearances, rates), other than a dose's.
# A unit typed without a number before it asks for a value in it ("the IOP cut-off in mmHg",
# "target plasma level (ng/mL)"); typed after a number it gives the patient's own ("a reading
# of 27 mmHg"). The answer is a number in that unit, which a passage must visibly carry.
_UNITS = {
    "mmHg": r"mm ?hg",
    "cmH2O": r"cm ?h2o",
    "kPa": r"kpa",
    "ng/mL": r"ng ?/ ?ml",
    "µg/mL": r"(?:µg|μg|mcg|ug) ?/ ?ml",
    "mg/L": r"mg ?/ ?d?l",
    "mmol/L": r"[mµμun]mol ?/ ?l",
    "mL/min": r"ml ?/ ?min",
    "bpm": r"bpm|beats per minute",
    "°C": r"°c|degrees celsius",
}
_UNIT_ASKED = {
    unit: re.compile(r"(?<![\w/])(?:" + pattern + r")(?![\w/])", re.IGNORECASE)
    for unit, pattern in _UNITS.items()
}
_UNIT_GIVEN = {
    unit: re.compile(r"\d\s*(?:" + pattern + r")(?![\w/])", re.IGNORECASE)
    for unit, pattern in _UNITS.items()
}


def units_asked(text: str) -> tuple[str, ...]:
    """Units the question asks a value in: typed with no number just before them."""
    return tuple(
        f"value in {unit}"
        for unit, pattern in _UNIT_ASKED.items()
        if any(not re.search(r"\d\s*$", text[: m.start()]) for m in pattern.finditer(text))
    )


def kinds_asked(text: str, ask: str = "") -> tuple[str, ...]:
    """The kinds of answer the question's form asks for that a passage must visibly carry;
    `ask`: a case history's asking sentence (`ask_sentence`), where a dose or a value in a
    unit is asked."""
    kinds = tuple(
        kind
        for kind, asked in _KINDS_ASKED.items()
        if asked.search(text) and (kind != PERSONS or about_this_document(text))
    )
    kinds += units_asked(ask or text)
    return kinds + ((DOSE,) if _DOSE_ASKED.search(ask or text) else ())


def kinds_given(text: str) -> frozenset[str]:
    """The kinds of answer a passage visibly carries (`kinds_asked`)."""
    kinds = {kind for kind, given in _KINDS_GIVEN.items() if given.search(text)}
    kinds |= {f"value in {unit}" for unit, given in _UNIT_GIVEN.items() if given.search(text)}
    return frozenset(kinds)


def passage_answer_types(text: str, kind: str = "", top_section: str = "") -> frozenset[str]:
    """The kinds of answer a passage carries: any numeral is a figure; a year or a month a
    date; the title, contents, epigraph and a top-level section about the document (named
    with the word "document", however reworded) carry facts about the document."""
    kinds = set()
    if kind in DOCUMENT_PART_KINDS or "document" in top_section.lower():
        kinds.add(DOCUMENT)
    if re.search(r"\d", text):
        kinds.add(FIGURE)
    if _YEAR_RE.search(text):
        kinds.add(DATE)
    return frozenset(kinds)


# A question about giving ketamine to one particular patient ("pt on ice wants ketamine IVIs,
# go ahead?", a vignette, "my partner uses ice, would that stop him getting ketamine?"): the
# statement always has something to say to it, its listed contraindications, whatever words
# the patient's condition is named in. Read from the form (a patient, an age, "he has", a
# relative or client asked about), not from the condition.
_ONE_PATIENT_RE = re.compile(
    r"\bpts?\b|\b(a|an|our|my|this|the) (patient|man|woman|boy|girl|teenager|child|lady)\b"
    r"|\b(man|woman|boy|girl)\b|\b\d+\s*-?\s*(year|yr)s?[- ]old\b|\b\d+\s*(yo|y/o|yr)\b"
    r"|\b\d{1,2}\s?[mf]\b|\b(he|she) (has|is|had|was|takes|uses|drinks|smokes|wants)\b"
    r"|\b(my|our|his|her|their) (husband|wife|partner|son|daughter|mum|mom|mother|dad|father"
    r"|brother|sister|friend|client)\b",
    re.IGNORECASE,
)
_KETAMINE_RE = re.compile(r"\bket(amine)?\b", re.IGNORECASE)


def about_one_patient(text: str, names_ketamine: bool = False) -> bool:
    """Whether the question asks about ketamine for one particular patient. `names_ketamine`:
    the reader found ketamine in shorthand the pattern does not know ("ktm", "ketamin")."""
    return bool(_ONE_PATIENT_RE.search(text) and (names_ketamine or _KETAMINE_RE.search(text)))


# Whether to give it: "ok?", "safe?", "go ahead?", "a reasonable candidate?", "any concerns?",
# "can she have it?", "what does the statement advise?". Asked of one patient, the statement's
# answer is its list of contraindications, whatever the condition is called; read from the form
# of the ask, never from the condition.
_WHETHER_TO_TREAT_RE = re.compile(
    r"\b(ok|okay|safe|safely|go(ing)? ahead|proceed|appropriate|reasonable|sensible|suitable"
    r"|advisable|acceptable|candidate|concerns?|an option|off the table|contraindicat\w*|matter"
    r"|should (we|i|she|he|they) (still )?(start|give|go|proceed|use|offer|refer|book|set|have)"
    r"|can (she|he|they|we|i) (have|give|get|receive|be given)|giving (it|ketamine|him|her)"
    r"|what does the (\w+ )?(statement|consensus|college) (\w+ )?(advise|recommend|say about)"
    r")\b",
    re.IGNORECASE,
)


# A clause that asks for a thing ("What duration is reasonable after an inpatient course?",
# "Which rate is safe?") asks what, not whether: its "reasonable" or "safe" qualifies the thing.
_CLAUSE_BREAK_RE = re.compile(r"[.?!;:]\s+|,\s*(?:and|or|but)\s+|\s[-–—]\s")
_ASKS_FOR_A_THING_RE = re.compile(
    r"\W*(what|which|how (many|much|long|often|soon)|when|where|who|whose)\b", re.IGNORECASE
)


def asks_whether_to_give(text: str) -> bool:
    """Whether the question's form asks if ketamine may be given ("ok?", "safe?", "can she
    have it?"), of one patient or of a condition ("bipolar with psychosis, ketamine ok?"). A
    whether-word in a clause that asks for a thing does not count ("what duration is
    reasonable", "which infusion rate is safe"); "what does the statement advise" does."""
    for match in _WHETHER_TO_TREAT_RE.finditer(text):
        clause = _CLAUSE_BREAK_RE.split(text[: match.start()])[-1]
        if match.group(0).lower().startswith("what does") or not _ASKS_FOR_A_THING_RE.match(clause):
            return True
    return False


def asks_whether_to_treat(text: str, names_ketamine: bool = False) -> bool:
    """Whether a question about one patient asks if ketamine may be given to them."""
    return about_one_patient(text, names_ketamine) and asks_whether_to_give(text)


# A sentence ends at . ? or ! followed by space and a capital, a digit or a quote: "Mr L, 58, has
# painful neuropathy. He takes duloxetine. Is there a risk of serotonin syndrome?"
_SENTENCE_END_RE = re.compile(r"(?<=[.?!])\s+(?=[A-Z0-9\"'“‘(])")


def ask_sentence(text: str) -> str:
    """The sentence that asks, when the question is several sentences long (a case history
    and then the question): the last one ending in "?", else the last one. "" for a question
    of one sentence, whose ask is all of it.

    A vignette names many things the statement never mentions; what decides whether the
    statement answers it is what the ask names ("is ketamine safe during pregnancy?")."""
    sentences = [s for s in _SENTENCE_END_RE.split(text.strip()) if s.strip()]
    if len(sentences) < 2:
        return ""
    asking = [s for s in sentences if s.rstrip().endswith("?")]
    return (asking or sentences)[-1].strip()


# A label before a colon that opens the question: "MCQ: ...", "For our governance register: ...",
# "Pharmacy query: ...", "A mum asked me: ...". Whether it says who asks and why, or names the
# topic ("WHO ECDD ketamine update review: ..."), the reader decides from the statement's words.
_LABEL_RE = re.compile(r"^\s*([^:?\d]{2,80}):\s+(?=(?:\S+\s+){2,}\S)")


def opening_label(text: str) -> str:
    """The label before a colon that opens the question, when at least three words follow it
    and it holds no figure ("Berman 2000: ..." names a study); "" otherwise."""
    m = _LABEL_RE.match(text)
    return m.group(1) if m else ""


# A question that asks which publication, whether there is one, or who wrote one: its answer is
# a publication, which an entry names, whatever figure its wording carries ("which 1999 paper on
# low-dose ketamine", "is there a paper in the reference list that tested this?"); not "what dose
# does the paper give", which asks what the paper says.
_IDENTIFIES_PUBLICATION_RE = re.compile(
    r"\b(which|what|is there an?|are there( any)?)\b(\W+(?!(does|did|do|is|was|were|are|has|had)\b)"
    r"[\w-]+){0,5}?\W+(papers?|articles?|"
    r"publications?|reviews?|stud(y|ies)|trials?|letters?|reports?|meta-analys[ie]s|journals?)\b"
    r"|\bwho\b(\W+\w+){0,3}?\W+(wrote|writes|authored|published|led|ran|conducted|did|were)\b",
    re.IGNORECASE,
)


def identifies_publication(text: str) -> bool:
    """Whether the question asks which publication, whether there is one, or who wrote one."""
    return bool(_IDENTIFIES_PUBLICATION_RE.search(text))


# the World Health Organization, in capitals, names the publisher of a listed report
_WHO_RE = re.compile(r"\bWHO\b")


def asks_for_citation(text: str) -> bool:
    """Whether the text looks up a publication (then bibliography entries are answers)."""
    return bool(_LOOKUP_RE.search(text) or _WHO_RE.search(text))


def names_publication_kind(text: str) -> bool:
    """Whether the text names a kind of publication ("which rat study", "refs")."""
    return bool(_PUBLICATION_KIND_RE.search(text))
