"""Text normalisation and the matcher: clear questions find their entry, others are declined,
small talk is recognised, and no input breaks it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot.authoring.evaluate import (
    TARGET_DECLINED,
    TARGET_RIGHT,
    TARGET_WRONG,
    EvalItem,
    baseline,
    evaluate,
    format_report,
    load_eval_set,
)
from bot.core import text
from bot.core.errors import KnowledgeError
from bot.core.knowledge import load_knowledge, phrasing_key
from bot.core.matcher import AMBIGUOUS, ANSWERED, DECLINED, RELATED, SMALLTALK, Matcher, Settings
from bot.core.replies import compose
from bot.core.sources import squash
from bot.core.text import (
    clean,
    content_stems,
    detect_language,
    is_stopword,
    smalltalk_kind,
    stem,
    words,
)

OUTCOMES = {ANSWERED, DECLINED, AMBIGUOUS, SMALLTALK}

# --- text --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spellings",
    [
        ("Sørumsand", "sorumsand", "soerumsand", "SØRUMSAND", "Sörumsand"),
        ("legevakten", "legevakta", "legevakt", "Legevakten"),
        ("beholdt", "beholdes", "beholde"),
        ("skolen", "skolene", "skoler", "skole"),
        ("barnehagen", "barnehager", "barnehage"),
        ("kjøre", "kjoere", "kjore"),
        ("Måsan", "maasan", "masan"),
        ("bærekraftig", "baerekraftig", "berekraftig"),
        ("Ｌｅｇｅｖａｋｔ", "legevakt"),
        # Irregular forms Snowball cannot strip.
        ("slått", "slo", "slå", "slår"),
        ("vedtatt", "vedtok", "vedta", "vedtas"),
        ("økt", "øker", "øke", "auka"),
        ("sykehjemmet", "sykehjem", "sjukeheimen"),
        ("fastlege", "fastlegen", "fastleger", "fastlegens"),
        ("offentleg", "offentlege"),  # the adjective ending is still stripped
    ],
    ids=lambda group: group[0],
)
def test_spellings_share_one_stem(spellings: tuple[str, ...]):
    stems = {tuple(content_stems(s)) for s in spellings}
    assert len(stems) == 1, stems
    (only,) = stems
    assert len(only) == 1
    assert only[0]


def test_each_thread_stems_with_its_own_stemmer():
    """Snowball stemmers are not thread-safe, and reloads stem in a worker thread."""
    stemmers = []

    def stem_in_thread() -> None:
        assert text._snowball("legevakten") == "legevakt"
        stemmers.append(text._stemmers.norwegian)

    threads = [threading.Thread(target=stem_in_thread) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stemmers) == 2
    assert stemmers[0] is not stemmers[1]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("legevakt", "skole"),
        ("eiendomsskatt", "eiendom"),
        ("sykehjem", "sykkel"),
        ("fastlege", "fast"),  # a doctor, not "permanent"
        ("skolelege", "skole"),
        ("marka", "mark"),  # the forest, not the field of "dyrka mark"
    ],
)
def test_different_words_keep_different_stems(a: str, b: str):
    assert stem(a) != stem(b)


@pytest.mark.parametrize(
    ("question", "content_words"),
    [
        ("Hva skjer med legevakten på Sørumsand?", ["legevakten", "sørumsand"]),
        ("Kva skjer med legevakta på Sørumsand?", ["legevakta", "sørumsand"]),
        ("What is happening to the emergency clinic?", ["emergency", "clinic"]),
        ("Hei, jeg lurer på om det blir noe skolemat", ["skolemat"]),
        ("Kan du fortelle meg litt om eiendomsskatten i kommunen?", ["eiendomsskatten"]),
        ("hva er det som skjer", []),
    ],
)
def test_stop_words_are_removed(question: str, content_words: list[str]):
    stems = [s for s in content_stems(question) if not s.startswith("?")]
    assert stems == [stem(w) for w in content_words]


@pytest.mark.parametrize("word", ["og", "hva", "kva", "ikkje", "the", "what", "kommunen", "hei"])
def test_is_stopword(word: str):
    assert is_stopword(word)


@pytest.mark.parametrize("word", ["legevakt", "skole", "eiendomsskatt", "kjeller"])
def test_topic_words_are_not_stopwords(word: str):
    assert not is_stopword(word)


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("Hvor mange innbyggere får kommunen?", "?antall"),
        ("Kor mange bur i kommunen?", "?antall"),
        ("How many people live here?", "?antall"),
        ("Når blir kommunen klimanøytral?", "?tid"),
        ("Hvor lenge gjelder plattformen?", "?varighet"),  # how long, not when
        ("kor lenge varer perioden", "?varighet"),
        ("Hvem bestemmer?", "?hvem"),
        ("Hvorfor slo de sammen kommunene?", "?hvorfor"),
        ("kor tid opnar biblioteket?", "?tid"),  # nynorsk and dialect "when"
        ("ka tid åpner helsestasjonen?", "?tid"),
    ],
)
def test_question_intent_is_kept(question: str, intent: str):
    assert intent in content_stems(question)


@pytest.mark.parametrize(
    ("raw", "expected_words"),
    [
        ("legevakt\x00sørumsand", ["legevakt", "sørumsand"]),
        ("legevakt\u200b på\x07 Sørumsand", ["legevakt", "på", "sørumsand"]),
        ("\u202eblir legevakten beholdt", ["blir", "legevakten", "beholdt"]),
        ("\ufeffskole\r\n", ["skole"]),
        ("\x00\x01\u200b\u200d\ufeff", []),
        pytest.param(
            "lege\u200bvakten",
            ["legevakten"],
            id="zero-width-inside-a-word",
        ),
        pytest.param(
            "lege\u00advakten",
            ["legevakten"],
            id="soft-hyphen-inside-a-word",
        ),
    ],
)
def test_control_and_zero_width_characters_are_removed(raw: str, expected_words: list[str]):
    cleaned = clean(raw)
    assert all(ch.isprintable() for ch in cleaned)
    assert words(raw) == expected_words


def test_words_cuts_long_text():
    assert len(words("ord " * 100_000)) <= text.MAX_QUESTION_CHARS // 4 + 1


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("hei", "greeting"),
        ("Hei!", "greeting"),
        ("hallo", "greeting"),
        ("god morgen", "greeting"),
        ("hello", "greeting"),
        ("takk!", "thanks"),
        ("Takk skal du ha", "thanks"),
        ("thanks", "thanks"),
        ("hva kan du?", "help"),
        ("Kva kan du?", "help"),
        ("what can you do?", "help"),
        ("hjelp", "help"),
        ("ha det", "bye"),
        ("ha det bra", "bye"),
        ("bye", "bye"),
        ("hei, blir legevakten beholdt?", None),
        ("takk, men hva med skolemat?", None),
        ("legevakt", None),
        ("", None),
        ("😀", None),
        ("tusen takk", "thanks"),
    ],
)
def test_smalltalk_kind(message: str, kind: str | None):
    assert smalltalk_kind(message) == kind


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Blir legevakten på Sørumsand beholdt?", "nb"),
        ("Kva skjer med skulen?", "nb"),
        ("Hva skjer med eiendomsskatten", "nb"),
        ("What will happen to the property tax?", "en"),
        ("Is the school in Fet closed?", "en"),
        ("Will the kindergartens be kept?", "en"),
        ("", "nb"),
        ("legevakt", "nb"),
        ("Will the emergency clinic in Sørumsand be kept?", "en"),
    ],
)
def test_detect_language(question: str, language: str):
    assert detect_language(question) == language


# --- the matcher over the shipped knowledge base -----------------------------------------

CLEAR_QUESTIONS = [
    ("legevakta på sørumsnad", "legevakt-sorumsand"),
    ("blir legevakten paa soerumsand beholdt", "legevakt-sorumsand"),
    ("Will Sorumsand keep its emergency clinic?", "legevakt-sorumsand"),
    ("Hvor høy er eiendomsskatten?", "eiendomsskatt-2-promille"),
    ("Kor mange promille blir eigedomsskatten?", "eiendomsskatt-2-promille"),
    ("What will happen to the property tax rate?", "eiendomsskatt-2-promille"),
    ("Hvor mange representanter får det nye kommunestyret?", "kommunestyre-55-representanter"),
    ("Hvor mange innbyggere får Lillestrøm kommune?", "innbyggertall-ny-kommune"),
    ("Vil skulane få gratis skulemat?", "skolemat-forprosjekt"),
    ("Får veteranflyene fortsatt bruke flystripa på Kjeller?", "kjeller-flystripe-veteranfly"),
    ("Skal kommunen bygge svømmehall?", "svommeanlegg-badeland"),
    ("Når skal kommunen være klimanøytral?", "klimanoytral-drift-2027"),
    ("Kan barnehageopptak skje to gonger i året?", "barnehageopptak-to-ganger"),
    ("Hvor mange lærlingplasser blir det i kommunen?", "laerlingplasser"),
    ("Blir det flere ladepunkter for elbil?", "ladepunkter-parkering"),
    ("Blir Fetsund lenser verdensarv?", "unesco-fetsund-lenser"),
    ("Is there a plan for cycling and walking?", "sykkel-gastrategi"),
    ("Blir prisen på SFO satt ned?", "sfo-pris"),
    ("Skal helsesøster være på skolen?", "helsesykepleier-norm-skole"),
    ("Blir det nye kommunesammenslåinger?", "ny-sammenslaing-ikke-aktuelt"),
    ("Blir sykehjemmene privatisert?", "sykehjem-kommunal-regi"),
    ("Får barn under 19 gratis treningstid?", "gratis-treningstid-unge"),
    ("Kva skjer med krisesenteret?", "krisesenter"),
    ("Will all elderly people get a place at a day centre?", "dagsenter-eldre"),
    ("Får pårørende omsorgslønn?", "omsorgslonn-parorende"),
    ("Hvor mange prosent skal utslippene kuttes innen 2030?", "utslippskutt-2030"),
]


@pytest.mark.parametrize(("question", "entry_id"), CLEAR_QUESTIONS)
def test_clear_question_is_answered_with_its_entry(shipped_matcher, question: str, entry_id: str):
    assert entry_id in shipped_matcher.kb.by_id, "the table names a real entry"
    result = shipped_matcher.match(question)
    assert (result.outcome, result.best.entry_id if result.best else None) == (ANSWERED, entry_id)
    assert result.answered
    assert result.best.score >= shipped_matcher.settings.answer_threshold


def test_clear_questions_are_not_copies_of_phrasings(shipped_kb):
    """The table tests generalisation, so none of its questions may be in the base."""
    known = {phrasing_key(q) for e in shipped_kb.entries for q in e.questions}
    copies = [q for q, _ in CLEAR_QUESTIONS if phrasing_key(q) in known]
    assert copies == []


UNANSWERABLE = [
    "hva blir været i morgen",
    "What's the weather like in Lillestrøm tomorrow?",
    "når går bussen til Oslo",
    "Når går neste buss fra Lillestrøm stasjon?",
    "hvem er ordfører nå",
    "hvordan fornyer jeg passet mitt",
    "Hvor kan jeg levere søppel?",
    "Når er det henting av papiravfall?",
    "Hvordan søker jeg byggetillatelse?",
    "Kan du anbefale en god restaurant?",
    "Hvem vant fotballkampen i går?",
    "Hvordan bytter jeg fastlege?",
    "får jeg ny fastlege",
    "hvor mange flyktninger kommer i år",
    "hvem er rektor på skolen",
    "hvordan melder jeg flytting",
]


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_question_the_documents_cannot_answer_is_not_answered(shipped_matcher, question: str):
    result = shipped_matcher.match(question)
    assert result.outcome != ANSWERED, result.best


@pytest.mark.parametrize(
    ("message", "kind"),
    [("hei", "greeting"), ("takk!", "thanks"), ("hva kan du?", "help"), ("ha det", "bye")],
)
def test_small_talk_is_recognised(shipped_matcher, message: str, kind: str):
    result = shipped_matcher.match(message)
    assert result.outcome == SMALLTALK
    assert result.smalltalk == kind
    assert result.best is None


def test_greeting_with_a_question_is_a_question(shipped_matcher):
    result = shipped_matcher.match("hei, blir legevakten på Sørumsand beholdt?")
    assert result.outcome == ANSWERED
    assert result.best.entry_id == "legevakt-sorumsand"


BAD_INPUT = [
    pytest.param("", id="empty"),
    pytest.param("   \t\n ", id="blank"),
    pytest.param("legevakt " * 12_500, id="100k-words"),
    pytest.param("a" * 100_000, id="100k-one-word"),
    pytest.param("😀🎉👍🏽", id="emoji-only"),
    pytest.param("\x00\x01\x1b[31m\u200b\u200d\ufeff\u2066", id="control-and-zero-width"),
    pytest.param("هل سيتم الإبقاء على الطوارئ في سورومساند؟", id="arabic"),
    pytest.param("האם המיון בסורומסנד יישאר?", id="hebrew"),
    pytest.param("\u202eblir legevakten beholdt\u202c", id="rtl-override"),
    pytest.param("<script>alert(1)</script>", id="html"),
    pytest.param("**bold** _x_ `code` [lenke](http://x)", id="markdown"),
    pytest.param("'; DROP TABLE questions; --", id="sql"),
    pytest.param("legevakt\x00sørumsand\x00", id="nul-bytes"),
    pytest.param("\ud800 lone surrogate", id="lone-surrogate"),
    pytest.param("?!?!?!...,,,", id="punctuation"),
    pytest.param("1234567890", id="digits"),
]


@pytest.mark.parametrize("question", BAD_INPUT)
def test_bad_input_never_breaks_the_matcher(shipped_matcher, shipped_kb, question: str):
    result = shipped_matcher.match(question)
    assert result.outcome in OUTCOMES
    assert len(result.question) <= text.MAX_QUESTION_CHARS
    for candidate in result.ranked:
        assert 0.0 <= candidate.score <= 100.0
    reply = compose(shipped_kb, result)
    assert reply.as_text()
    assert reply.as_html()
    assert "<script>" not in reply.as_html()


def test_a_100k_character_question_is_cut(shipped_matcher):
    result = shipped_matcher.match("Blir legevakten på Sørumsand beholdt? " * 3_000)
    assert len(result.question) <= text.MAX_QUESTION_CHARS
    assert result.question.startswith("Blir legevakten på Sørumsand beholdt?")


@pytest.mark.parametrize(
    "question",
    [q for q, _ in CLEAR_QUESTIONS[:8]] + UNANSWERABLE[:4] + ["eiendomsskatt", "skole", "x"],
)
def test_scores_are_within_0_and_100_and_sorted(shipped_matcher, question: str):
    ranked = shipped_matcher.rank(question)
    scores = [c.score for c in ranked]
    assert all(0.0 <= s <= 100.0 for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert len({c.entry_id for c in ranked}) == len(ranked)


def test_match_is_deterministic(shipped_matcher):
    first = shipped_matcher.match("hva skjer med skolene i Fet")
    again = shipped_matcher.match("hva skjer med skolene i Fet")
    assert first == again


# --- "mente du": ambiguity --------------------------------------------------------------

TWIN_SOURCE = """\
---
id: twin
title: To legevakter
description: To nesten like avsnitt
date: '2020'
---

# Helse

Legevakten på Nordby skal beholdes.

Legevakten på Sørby skal beholdes.

Biblioteket i sentrum skal utvides.
"""

TWIN_ENTRIES = """\
source: twin
section: Helse
entries:
  - id: legevakt-nordby
    answer: Legevakten på Nordby skal beholdes.
    questions: [Blir legevakten på Nordby beholdt?, Skal Nordby ha legevakt?]
  - id: legevakt-sorby
    answer: Legevakten på Sørby skal beholdes.
    questions: [Blir legevakten på Sørby beholdt?, Skal Sørby ha legevakt?]
  - id: bibliotek
    answer: Biblioteket i sentrum skal utvides.
    questions: [Blir biblioteket større?]
"""


def build_matcher(
    directory: Path, name: str, source: str, entries: str, *, synonyms: str | None = None
) -> Matcher:
    """Returns a matcher over one source and one entries file written to ``directory``."""
    (directory / "sources").mkdir()
    (directory / "sources" / f"{name}.md").write_text(source, encoding="utf-8")
    (directory / f"{name}.yaml").write_text(entries, encoding="utf-8")
    if synonyms is not None:
        (directory / "synonyms.yaml").write_text(synonyms, encoding="utf-8")
    return Matcher(load_knowledge(directory))


@pytest.fixture
def twin_matcher(tmp_path: Path) -> Matcher:
    return build_matcher(tmp_path, "twin", TWIN_SOURCE, TWIN_ENTRIES)


def test_question_fitting_two_entries_equally_asks_mente_du(twin_matcher: Matcher):
    result = twin_matcher.match("Blir legevakten beholdt?")
    assert result.outcome == AMBIGUOUS
    ids = [c.entry_id for c in result.alternatives]
    assert sorted(ids) == ["legevakt-nordby", "legevakt-sorby"]
    assert result.best == result.alternatives[0]
    reply = compose(twin_matcher.kb, result)
    text_reply = reply.as_text()
    assert "Mente du" in text_reply
    assert "1. " in text_reply
    assert "2. " in text_reply


@pytest.mark.parametrize(
    ("question", "entry_id"),
    [
        ("Blir legevakten på Nordby beholdt?", "legevakt-nordby"),
        ("legevakta i sørby", "legevakt-sorby"),
        ("biblioteket", "bibliotek"),
    ],
)
def test_twin_base_answers_when_the_place_is_named(
    twin_matcher: Matcher, question: str, entry_id: str
):
    result = twin_matcher.match(question)
    assert result.outcome == ANSWERED
    assert result.best.entry_id == entry_id


@pytest.mark.parametrize("question", ["eiendomsskatt", "kjeller flyplass", "skole", "legevakt"])
def test_ambiguous_results_carry_distinct_alternatives(shipped_matcher, question: str):
    result = shipped_matcher.match(question)
    assert result.outcome in (ANSWERED, AMBIGUOUS)
    if result.outcome == AMBIGUOUS:
        ids = [c.entry_id for c in result.alternatives]
        assert len(ids) >= 2
        assert len(set(ids)) == len(ids)
        assert ids[0] == result.best.entry_id
    else:
        assert result.alternatives == ()


def test_some_single_word_is_ambiguous_in_the_shipped_base(shipped_matcher):
    words_ = ["eiendomsskatt", "kjeller", "klima", "skole", "barnehage", "sammenslåing", "kultur"]
    ambiguous = [w for w in words_ if shipped_matcher.match(w).outcome == AMBIGUOUS]
    assert ambiguous, "a broad one-word topic should offer 'mente du' alternatives"


# --- questions after what no passage holds ------------------------------------------------

CUE_SOURCE = """\
---
id: cue
title: Plan med åpningstider
description: Et avsnitt som nevner åpningstider, et som ikke gjør det
date: '2020'
---

# Helse

Helsestasjonen for ungdom skal få lengre åpningstid på kveldene.

Legevakten på Nordby skal beholdes.
"""

CUE_ENTRIES = """\
source: cue
section: Helse
entries:
  - id: helsestasjon-kveld
    answer: Helsestasjonen for ungdom skal få lengre åpningstid på kveldene.
    questions: [Får helsestasjonen for ungdom lengre åpningstid?]
  - id: legevakt-nordby
    answer: Legevakten på Nordby skal beholdes.
    questions: [Blir legevakten på Nordby beholdt?]
"""


@pytest.fixture
def cue_matcher(tmp_path: Path) -> Matcher:
    return build_matcher(tmp_path, "cue", CUE_SOURCE, CUE_ENTRIES)


@pytest.mark.parametrize(
    ("question", "outcome", "entry_id"),
    [
        # The entry itself speaks of opening hours, in another inflection.
        ("åpningstidene på helsestasjonen for ungdom", ANSWERED, "helsestasjon-kveld"),
        ("Blir legevakta på Nordby beholdt?", ANSWERED, "legevakt-nordby"),
        # Same topic, but the passage holds no phone number, price or opening hours: an
        # honest partial answer says so and quotes the passage (issue 10).
        ("telefonnummer til legevakten på Nordby", RELATED, "legevakt-nordby"),
        ("hva koster legevakten på Nordby", RELATED, "legevakt-nordby"),
        ("åpningstider for legevakten på Nordby", RELATED, "legevakt-nordby"),
        ("legevakten på Nordby i 2031", RELATED, "legevakt-nordby"),
        ("hvordan søker jeg legevakten på Nordby", RELATED, "legevakt-nordby"),
    ],
)
def test_question_after_what_the_passage_lacks_gets_a_partial_answer(
    cue_matcher: Matcher, question: str, outcome: str, entry_id: str | None
):
    result = cue_matcher.match(question)
    assert result.outcome == outcome, result.ranked[:2]
    assert (result.best.entry_id if result.best else None) == entry_id


@pytest.mark.parametrize(
    ("question", "cue"),
    [
        ("åpen barnehage", None),  # "open" in the everyday sense is a topic, not a cue
        ("blir det nok skoler", None),
        ("what are the opening hours", "!opening"),
        ("åpningstider", "!apningstid"),
        ("åpningstidene", "!apningstid"),
        ("når går neste buss", "!rutetid"),  # a timetable question
        ("when does the next train leave", "!rutetid"),
        ("hva skjer i neste periode", None),
        # "i dag", "i år", "this year": questions about now, like "idag".
        ("hva blir været i morgen", "!ver !imorg"),
        ("hvor mange flyktninger kommer i år", "!iar"),
        ("hvor mange i aar", "!iar"),
        ("what happens this year", "!thisye"),
        ("to opptak i året", None),  # "a year", not "this year"
        ("i dagens samfunn", None),
        # Inflections of the listed nouns are caught by their stem; verbs are not.
        ("hva er telefonnummeret til legevakta", "!telefonnumm"),
        ("adressen til rådhuset", "!adress"),
        ("Skal Blaker skole stenges?", None),
        # How to use a service: a first-person "how do I", not "how is it going".
        ("hvordan melder jeg flytting", "!howto"),
        ("how do I register my child for school", "!howto"),
        ("korleis søkjer eg barnehageplass", "!howto"),
        ("hvordan går det i skolen", None),
        ("hvordan i all verden skal dette gå", None),
        ("hvordan blir jeg påvirket av skatten", None),  # impact, not a service
        ("Ｈｏｗ do I apply", "!howto"),  # full-width letters are cleaned first
        ("naturlig avgang i kommunen", None),  # attrition, not a departure
        ("hvordan skal vi få samhold i kommunen", None),
        ("når blir søppelet hentet", "!hent"),
    ],
)
def test_out_of_scope_cues(question: str, cue: str | None):
    cues = [t for t in content_stems(question) if t.startswith("!")]
    assert cues == (cue.split() if cue else [])


def test_a_cue_in_one_entry_does_not_pull_questions_towards_it(tmp_path: Path):
    """Only one entry has a "how do I" phrasing; other "how do I" questions are not its."""
    entries = CUE_ENTRIES.replace(
        "questions: [Får helsestasjonen for ungdom lengre åpningstid?]",
        "questions: [Får helsestasjonen for ungdom lengre åpningstid?, "
        "Hvordan kan jeg gå på helsestasjonen om kvelden?]",
    )
    matcher = build_matcher(tmp_path, "cue", CUE_SOURCE, entries)
    # Shares only "kveld" with the how-to phrasing: not enough to answer with it.
    result = matcher.match("hvordan kan jeg få legevakt om kvelden")
    assert result.outcome != ANSWERED, result.ranked


def test_a_phrasing_cannot_make_an_entry_answer_who_holds_an_office(tmp_path: Path):
    """Only a passage could name today's mayor; a staff phrasing asking it unlocks nothing."""
    entries = CUE_ENTRIES.replace(
        "questions: [Blir legevakten på Nordby beholdt?]",
        "questions: [Blir legevakten på Nordby beholdt?, Hvem er ordfører på Nordby?]",
    )
    matcher = build_matcher(tmp_path, "cue", CUE_SOURCE, entries)
    office = matcher.match("hvem er ordfører på Nordby")
    assert office.outcome in (DECLINED, RELATED)  # never answered as if it named one
    assert office.outcome == DECLINED or office.missing == "person"
    assert matcher.match("blir legevakta på Nordby beholdt").outcome == ANSWERED


# --- the wording's shape and compounds -----------------------------------------------------

SHAPE_SOURCE = """\
---
id: shape
title: Plan for skatt og kommuner
description: Avsnitt som deler ord, men svarer på ulike spørsmål
date: '2020'
---

# Skatt

Eiendomsskatten skal holdes på dagens nivå.

Inntektene fra eiendomsskatten skal gå til skole og omsorg.

# Kommunen

Kommuneøkonomien i Lillestrøm skal være sunn, og økonomien skal styres godt.

Fet, Skedsmo og Sørum ble slått sammen til Lillestrøm.
"""

SHAPE_ENTRIES = """\
source: shape
entries:
  - id: skatt-niva
    section: Skatt
    answer: Eiendomsskatten skal holdes på dagens nivå.
    questions: [Hva skjer med eiendomsskatten?]
  - id: skatt-bruk
    section: Skatt
    answer: Inntektene fra eiendomsskatten skal gå til skole og omsorg.
    questions: [Hva går eiendomsskatten til?]
  - id: okonomi
    section: Kommunen
    answer: Kommuneøkonomien i Lillestrøm skal være sunn, og økonomien skal styres godt.
    questions: [kommuneøkonomi Lillestrøm]
  - id: sammenslaing
    section: Kommunen
    answer: Fet, Skedsmo og Sørum ble slått sammen til Lillestrøm.
    questions: [Hvilke kommuner ble slått sammen til Lillestrøm?]
"""


@pytest.fixture
def shape_matcher(tmp_path: Path) -> Matcher:
    return build_matcher(tmp_path, "shape", SHAPE_SOURCE, SHAPE_ENTRIES)


@pytest.mark.parametrize(
    ("question", "entry_id"),
    [
        # Same content words ("eiendomsskatt"); the stop words around them differ.
        ("kva går eigedomsskatten til", "skatt-bruk"),
        ("hva skjer med eiendomsskatten", "skatt-niva"),
        # "kommuner" is all of "kommuner", but only a part of "kommuneøkonomi".
        ("hvilke kommuner ble til lillestrøm", "sammenslaing"),
    ],
)
def test_the_wording_and_whole_words_decide_between_close_entries(
    shape_matcher: Matcher, question: str, entry_id: str
):
    ranked = shape_matcher.rank(question)
    assert ranked[0].entry_id == entry_id, ranked[:2]
    assert ranked[0].score > ranked[1].score


def test_synonym_for_a_word_no_entry_uses_does_not_break_typo_correction(tmp_path: Path):
    """A staff synonym group may name words the entries do not use (yet)."""
    matcher = build_matcher(
        tmp_path,
        "twin",
        TWIN_SOURCE,
        TWIN_ENTRIES,
        synonyms="synonyms:\n  funksjonsevne: [biblioteket, handikap]\n",
    )
    # "bibloteket" is corrected to "biblioteket", whose synonym no entry uses.
    result = matcher.match("bibloteket større")
    assert result.best is not None
    assert result.best.entry_id == "bibliotek"


def test_declined_result_has_no_best_and_points_to_the_municipality(tiny_knowledge: Path):
    matcher = Matcher(load_knowledge(tiny_knowledge))
    result = matcher.match("Hvordan blir været i morgen?")
    assert result.outcome == DECLINED
    assert result.best is None
    assert result.alternatives == ()
    reply = compose(matcher.kb, result)
    assert reply.entry is None
    assert "https://www.lillestrom.kommune.no" in reply.as_text()
    english = compose(matcher.kb, matcher.match("What is the weather like tomorrow?"))
    assert english.as_text().startswith("Sorry")


# --- evaluation ---------------------------------------------------------------------------

DEV_SET = Path(__file__).resolve().parent / "data" / "dev_questions.yaml"


@pytest.fixture
def tiny_matcher(tiny_knowledge: Path) -> Matcher:
    return Matcher(load_knowledge(tiny_knowledge))


def test_evaluate_arithmetic_on_known_outcomes(tiny_matcher: Matcher):
    items = [
        # right: answered with the entry whose passage holds the fragment
        EvalItem(q="Blir legevakten på Nordby beholdt?", expect="Legevakten på Nordby"),
        # wrong: answered, but with another entry
        EvalItem(q="Blir det gratis skolemat?", expect="nytt helsehus", kind="english"),
        # declined although answerable
        EvalItem(q="Når går bussen?", expect="barnehageplass nær hjemmet"),
        # unanswerable and declined
        EvalItem(q="Hvordan blir været i morgen?", expect=None, kind="unanswerable"),
        # unanswerable but answered
        EvalItem(q="Kommer det et nytt helsehus i sentrum?", expect=None, kind="unanswerable"),
    ]
    report = evaluate(tiny_matcher, items)
    assert [r.verdict for r in report.results] == [
        "right",
        "wrong",
        "declined",
        "declined-ok",
        "answered-unanswerable",
    ]
    assert [r.reciprocal_rank for r in report.results[:3]] == [1.0, 0.0, 0.0]
    summary = report.summary()
    assert summary["questions"] == 5
    assert (summary["answerable"], summary["unanswerable"]) == (3, 2)
    assert summary["answered_right"] == 33.3
    assert summary["answered_wrong"] == 33.3
    assert summary["declined"] == 33.3
    assert summary["clarified"] == 0.0
    assert summary["unanswerable_declined"] == 50.0
    assert summary["unanswerable_answered"] == 50.0
    assert summary["mrr"] == round(1 / 3, 3)
    assert summary["by_kind"]["english"] == {
        "questions": 1,
        "answerable": 1,
        "right": 0.0,
        "wrong": 100.0,
        "clarified": 0.0,
        "unanswerable": 0,
        "unanswerable_ok": 0.0,
        "unanswerable_answered": 0.0,
    }
    assert summary["by_kind"]["unanswerable"]["unanswerable_ok"] == 50.0
    assert summary["unmapped"] == []
    assert not report.meets_target()
    assert [r.verdict for r in report.failures()] == [
        "wrong",
        "answered-unanswerable",
        "declined",
    ]
    rendered = format_report(report)
    assert "MRR: 0.333" in rendered
    assert "MISSES" in rendered
    assert "[wrong] 'Blir det gratis skolemat?' → skolemat (expected helsehus)" in rendered


def test_evaluate_perfect_set_meets_the_target(tiny_matcher: Matcher):
    items = [
        EvalItem(q="legevakta i nordby", expect="Legevakten på Nordby skal beholdes."),
        EvalItem(q="gratis skolemat?", expect="gratis skolemat"),
        EvalItem(q="Hvordan blir været i morgen?", expect=None),
    ]
    report = evaluate(tiny_matcher, items)
    summary = report.summary()
    assert (summary["answered_right"], summary["unanswerable_declined"]) == (100.0, 100.0)
    assert summary["mrr"] == 1.0
    assert report.meets_target()
    assert "meets" in format_report(report)


def test_plain_baseline_matches_source_paragraphs(tiny_matcher: Matcher):
    items = [
        # Word for word a paragraph: the baseline gets this right.
        EvalItem(q="Det skal bygges et nytt helsehus i sentrum", expect="nytt helsehus"),
        # Closest to the helsehus paragraph, but the fragment is elsewhere: wrong.
        EvalItem(q="helsehus i sentrum", expect="Alle barn skal få barnehageplass"),
        # Nothing like any paragraph: declined.
        EvalItem(q="zzz qqq", expect="gratis skolemat"),
        EvalItem(q="xyzzy plugh", expect=None),
    ]
    plain = baseline(tiny_matcher.kb, items, score_cutoff=50)
    assert plain == {
        "score_cutoff": 50,
        "answered_right": 33.3,
        "answered_wrong": 33.3,
        "unanswerable_declined": 100.0,
    }


def test_evaluate_flags_fragments_no_entry_quotes(tiny_matcher: Matcher):
    items = [EvalItem(q="legevakta i nordby", expect="Dette står ingen steder.")]
    report = evaluate(tiny_matcher, items)
    assert report.summary()["unmapped"] == ["legevakta i nordby"]
    assert report.results[0].verdict == "wrong"
    assert not report.meets_target()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("q: not a list\n", "expected a list"),
        ("- q: hei\n  expect: x\n  extra: 1\n", "Extra inputs"),
        ("- q: hei\n", "Field required"),
        ("- q: 'open\n", "invalid YAML"),
    ],
)
def test_broken_eval_set_is_reported(tmp_path: Path, content: str, message: str):
    path = tmp_path / "set.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(KnowledgeError, match=message) as caught:
        load_eval_set(path)
    assert Path(caught.value.problems[0].file) == path


@pytest.fixture(scope="module")
def dev_items() -> list[EvalItem]:
    return load_eval_set(DEV_SET)


def test_dev_set_is_well_formed(dev_items: list[EvalItem], shipped_kb):
    assert len(dev_items) >= 150
    assert sum(item.expect is None for item in dev_items) >= 20
    texts = [s.text for doc in shipped_kb.sources.values() for s in doc.sections.values()]
    not_verbatim = [
        item.q
        for item in dev_items
        if item.expect and not any(squash(item.expect) in t for t in texts)
    ]
    assert not_verbatim == []
    assert {"bokmål", "nynorsk", "english", "unanswerable"} <= {item.kind for item in dev_items}


def test_dev_questions_are_not_phrasings_of_the_knowledge_base(dev_items, shipped_kb):
    """Keeps the evaluation honest: a dev question copied into the base measures nothing."""
    phrasings = {phrasing_key(q): e.id for e in shipped_kb.entries for q in e.questions}
    leaked = {
        item.q: phrasings[phrasing_key(item.q)]
        for item in dev_items
        if phrasing_key(item.q) in phrasings
    }
    assert leaked == {}


@pytest.mark.parametrize(
    "name", sorted(p.name for p in (Path(__file__).parent / "data").glob("*.yaml"))
)
def test_evaluation_sets_stay_apart_from_the_phrasings(name: str, shipped_kb):
    """An evaluation set copied into the base measures nothing.

    The message sets were written without seeing the phrasings, and a few short questions
    happen to equal one ("Blir det to barnehageopptak i året?"), as residents' will; a
    set taught to the base would match by the dozen.
    """
    from bot.authoring.evaluate import load_eval_set

    phrasings = {phrasing_key(q): e.id for e in shipped_kb.entries for q in e.questions}
    items = load_eval_set(Path(__file__).parent / "data" / name)
    same = {i.q: phrasings[phrasing_key(i.q)] for i in items if phrasing_key(i.q) in phrasings}
    assert len(same) <= 0.04 * len(items), same


# Beyond the target: the right passage stays first (MRR) and wrong answers stay rare.
# A regression guard; raise it as the matcher improves.
FLOOR_WRONG, FLOOR_MRR = 2.5, 0.96


def test_dev_set_holds_the_floor(dev_items, shipped_matcher):
    summary = evaluate(shipped_matcher, dev_items).summary()
    assert summary["unmapped"] == []
    assert summary["answered_wrong"] <= FLOOR_WRONG, summary
    assert summary["mrr"] >= FLOOR_MRR, summary


def test_dev_set_meets_target(dev_items, shipped_matcher):
    report = evaluate(shipped_matcher, dev_items)
    summary = report.summary()
    assert summary["unmapped"] == []
    assert report.meets_target(), (
        f"right {summary['answered_right']}% (≥ {TARGET_RIGHT}), "
        f"wrong {summary['answered_wrong']}% (≤ {TARGET_WRONG}), "
        f"unanswerable declined {summary['unanswerable_declined']}% (≥ {TARGET_DECLINED}), "
        f"MRR {summary['mrr']}"
    )


@pytest.mark.parametrize("parts", [1, 2, 3])
def test_a_reply_stays_within_telegrams_limit_whatever_it_quotes(shipped_kb, parts: int):
    """Long passages, long questions, the story line and the partial-answer line together
    still fit one Telegram message (4,096 visible characters): the quotes are cut."""
    from dataclasses import replace as copy

    from bot.core.matcher import Candidate, MatchResult
    from bot.devtools.standin import parse_html

    replies = []
    for i, entry in enumerate(shipped_kb.entries[:parts]):
        long = copy(entry, answer="Lang & <tekst> " * 400, title="T" * 120)
        kb_entry = shipped_kb.by_id[entry.id]
        result = MatchResult(
            question="Hva med " + "veldig " * 60 + "?",
            outcome=RELATED if i % 2 else ANSWERED,
            best=Candidate(entry.id, 40.0, entry.questions[0]),
            missing="time" if i % 2 else None,
            inferred=not i % 2,
        )
        reply = compose(shipped_kb, result)
        assert reply.entry is kb_entry
        replies.append(copy(reply, entry=long))
    whole = copy(replies[0], more=tuple(replies[1:]))
    visible, _ = parse_html(whole.as_html())
    assert len(visible) <= 4096
    assert visible.count("Lang & <tekst>") > 100  # the passages are quoted, only cut
    # An inline answer heads the reply with the question it answers.
    from bot.telegram.inline import article

    body = article("id", "Spørsmål " * 40, whole).input_message_content
    assert len(parse_html(body.message_text)[0]) <= 4096


# --- messages as residents write them (issue 10) ---------------------------------------


def test_every_start_example_and_every_entry_title_answers_directly(shipped_matcher: Matcher):
    from bot.core.messages import EXAMPLE_QUESTIONS

    for question in (*EXAMPLE_QUESTIONS, *(e.label for e in shipped_matcher.kb.entries)):
        result = shipped_matcher.match(question)
        assert result.outcome == ANSWERED, (question, result.ranked[:2])


def test_mente_du_offers_entry_titles_never_the_residents_words(shipped_matcher: Matcher):
    for question in ("eiendomsskatt", "skole", "kommunale boliger"):
        result = shipped_matcher.match(question)
        labels = {shipped_matcher.kb.by_id[c.entry_id].label for c in result.alternatives}
        assert all(c.question in labels for c in result.alternatives)
        assert question not in {c.question for c in result.alternatives}


@pytest.mark.parametrize(
    ("message", "questions", "has_story"),
    [
        ("Når ble Fet, Skedsmo og Sørum slått sammen?", 1, False),
        ("blir det flere sykehjemsplasser, og beholdes legevakta på Sørumsand?", 2, False),
        ("Vi bor på Fetsund. I dag hørte jeg at legevakta skal legges ned. Stemmer det?", 1, True),
        ("blir alle skulane like eller blir det lokale løysingar", 1, False),
        # A sentence ending in a full stop tells, whatever its first word ("når", "får").
        ("Når jeg besøker tante, er maten kald. Er det planer om å gjøre noe?", 1, True),
        ("Far min er 84. Skal han kunne bo hjemme?", 1, True),
    ],
)
def test_a_message_is_read_into_its_questions_and_story(
    message: str, questions: int, has_story: bool
):
    from bot.core.understand import read_message

    read = read_message(message, vague_words=Settings().vague_words)
    assert len(read.questions) == questions
    assert bool(read.context) == has_story


@pytest.mark.parametrize(
    ("message", "questions"),
    [
        # A vague question pointing back before a question of its own is story …
        (
            "Elevene i Sverige får lunsj. Kunne vi fått noe sånt? Blir det gratis skolemat?",
            ("Blir det gratis skolemat?",),
        ),
        (
            "Kunne vi fått noe lignende her? Blir det gratis skolemat?",
            ("Blir det gratis skolemat?",),
        ),
        # … after one, it leans on it (see dialogue.respond) …
        (
            "Blir det gratis skolemat? Kunne vi fått noe sånt?",
            ("Blir det gratis skolemat?", "Kunne vi fått noe sånt?"),
        ),
        # … and an article or "om det" (whether) points at nothing.
        (
            "Når åpner den nye svømmehallen? Hva koster eiendomsskatten?",
            ("Når åpner den nye svømmehallen?", "Hva koster eiendomsskatten?"),
        ),
        (
            "Hvor høy er eiendomsskatten? Vet du om det blir gratis skolemat?",
            ("Hvor høy er eiendomsskatten?", "Vet du om det blir gratis skolemat?"),
        ),
    ],
)
def test_a_message_keeps_the_questions_it_asks(message: str, questions: tuple[str, ...]):
    from bot.core.understand import read_message

    assert read_message(message, vague_words=Settings().vague_words).questions == questions


def test_a_time_word_in_the_story_does_not_veto_the_question(shipped_matcher: Matcher):
    from bot.core.dialogue import respond

    message = (
        "Vi har bodd på Sørumsand siden 1998 og har alltid hatt kort vei til legevakta. "
        "I dag hørte jeg at legevakta på Sørumsand skal legges ned. Stemmer det?"
    )
    reply = respond(shipped_matcher.kb, shipped_matcher, message).reply
    assert reply.outcome == ANSWERED
    assert reply.entry is not None
    assert reply.entry.id == "legevakt-sorumsand"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Planlegger kommunen noe sånt?", True),
        ("Kommer den nye skolen til å være sånn?", True),
        ("Will the council do this?", True),
        ("Kan kommunen ordne det slik at bussen går oftere?", False),
        # "Det" mostly points at nothing: "Blir det …?" asks about what follows.
        ("Blir det flere sykehjemsplasser?", False),
        ("Stemmer det?", False),
        # After a preposition it stands for something said before.
        ("Fører kommunen noe regnskap over det?", True),
        ("What is the council doing about it?", True),
        ("Bryr de seg i det hele tatt?", False),
        ("Vet du om det blir gratis skolemat?", False),  # "om": whether
        # "den"/"det" before an adjective is the article, not a pronoun.
        ("Hva skjer med det nye badet?", False),
        ("Når åpner den nye svømmehallen?", False),
        ("Har de en klimaplan, og blir den fulgt opp?", True),
    ],
)
def test_a_question_pointing_back_is_recognised(question: str, expected: bool):
    from bot.core.understand import points_back

    assert points_back(question) is expected


def test_a_question_pointing_back_into_its_story_is_not_read_alone(shipped_matcher: Matcher):
    from bot.core.dialogue import respond

    # Alone, "Er det planlagt noe sånt som samler dem?" finds a passage on planning the
    # merger; the story is about health services in three places, which it points to.
    message = (
        "Jeg har vondt i ryggen og må til fysioterapeut, lege og apotek på tre "
        "forskjellige steder. Det tar en hel dag med buss. "
        "Er det planlagt noe sånt som samler dem?"
    )
    reply = respond(shipped_matcher.kb, shipped_matcher, message).reply
    assert not (reply.entry is not None and reply.entry.id == "kartlegging-arbeidsgrupper-2018")
    # A pointing question that names its own topic is still answered.
    message = (
        "Min eldste sønn har dysleksi og sliter med lesingen. Lærerne har ikke tid. "
        "Finnes det noe sånt som sommerskole?"
    )
    reply = respond(shipped_matcher.kb, shipped_matcher, message).reply
    assert reply.outcome == ANSWERED
    assert reply.entry is not None
    assert reply.entry.id == "sommerskole"


def test_a_follow_up_is_read_with_the_topic_and_a_new_question_is_not(
    shipped_matcher: Matcher,
):
    from bot.core.dialogue import respond

    kb = shipped_matcher.kb
    first = respond(kb, shipped_matcher, "Blir legevakten på Sørumsand beholdt?", now=0)
    assert first.topic is not None
    assert first.topic.entry_id == "legevakt-sorumsand"
    why = respond(kb, shipped_matcher, "hvorfor det?", topic=first.topic, now=1)
    assert why.reply.outcome in (RELATED, DECLINED)  # never the same passage as an answer
    new = respond(kb, shipped_matcher, "Hva skjer med eiendomsskatten?", topic=first.topic)
    assert new.reply.outcome == ANSWERED
    assert new.reply.entry is not None
    assert new.reply.entry.id.startswith("eiendomsskatt")


@pytest.mark.parametrize(
    ("first", "follow_up", "outcome"),
    [
        # The passage names both new and old pitches: it answers "and the new ones?".
        ("Hva gjør kommunen med de gamle kunstgressbanene?", "og de nye?", ANSWERED),
        # It says nothing of why: the bot says that is all the documents say.
        ("Blir legevakten på Sørumsand beholdt?", "hvorfor det?", RELATED),
        # "Which schools?" asks for names a passage on temporary pavilions does not give.
        ("Skal brakkeskolene bort?", "hvilke skoler gjelder det?", RELATED),
        # "What do they do there?" asks what the passage describes: it answers.
        ("Får eldre plass på dagsenter?", "hva gjør de der?", ANSWERED),
    ],
)
def test_a_follow_up_on_the_same_passage_is_answered_only_if_it_says_so(
    shipped_matcher: Matcher, first: str, follow_up: str, outcome: str
):
    from bot.core.dialogue import respond

    kb = shipped_matcher.kb
    before = respond(kb, shipped_matcher, first, now=0)
    assert before.reply.outcome == ANSWERED
    after = respond(kb, shipped_matcher, follow_up, topic=before.topic, now=1)
    assert after.reply.outcome in ((outcome, DECLINED) if outcome == RELATED else (outcome,))
    if outcome == ANSWERED:
        assert after.reply.entry == before.reply.entry


def test_the_topic_is_forgotten_after_ten_minutes():
    from bot.core.dialogue import Conversations, Topic

    memory = Conversations(seconds=600)
    memory.remember("chat", Topic("legevakt", "legevakt-sorumsand", at=0.0))
    assert memory.get("chat", now=599.0) is not None
    assert memory.get("chat", now=601.0) is None


def test_two_questions_get_two_passages(shipped_matcher: Matcher):
    from bot.core.dialogue import respond

    reply = respond(
        shipped_matcher.kb,
        shipped_matcher,
        "Hvor høy er eiendomsskatten, og blir legevakten på Sørumsand beholdt?",
    ).reply
    found = {p.entry.id for p in reply.parts if p.entry is not None}
    assert "legevakt-sorumsand" in found
    assert len(reply.parts) == 2
    assert "Om «" in reply.as_text()


def test_development_messages_hold_their_floor(shipped_matcher: Matcher):
    """The issue-10 development set: figures may rise; a fall below the floor is a regression."""
    from bot.authoring.evaluate import evaluate, load_eval_set

    report = evaluate(shipped_matcher, load_eval_set(DEV_MESSAGES))
    s = report.summary()
    assert s["answered_right"] >= 82.0, s
    assert s["answered_wrong"] <= 5.0, s
    assert s["unanswerable_declined"] >= 82.0, s
    assert s["by_kind"]["long"]["right"] >= 68.0, s["by_kind"]["long"]


DEV_MESSAGES = Path(__file__).resolve().parent / "data" / "dev_messages.yaml"


@pytest.mark.parametrize(
    ("name", "right", "wrong", "declined"),
    [
        # Floors a little under the figures at the commit that added them.
        ("fresh_dev.yaml", 89.0, 3.0, 78.0),
        ("fresh_conversations.yaml", 75.0, 6.0, 60.0),
    ],
)
def test_fresh_development_sets_hold_their_floor(
    shipped_matcher: Matcher, name: str, right: float, wrong: float, declined: float
):
    """The fresh development sets (messages, conversations): a fall is a regression."""
    from bot.authoring.evaluate import evaluate, load_eval_set

    report = evaluate(shipped_matcher, load_eval_set(DEV_MESSAGES.parent / name))
    s = report.summary()
    assert s["answered_right"] >= right, s
    assert s["answered_wrong"] <= wrong, s
    assert s["unanswerable_declined"] >= declined, s


# --- the wording model and the two readers' agreement ----------------------------------------


@pytest.mark.parametrize(
    ("text", "entry_id"),
    [
        # Inflections, dialect spellings and typos: letters, not words, are compared.
        ("legevakta på sørumsand", "legevakt-sorumsand"),
        ("legevakten paa sorumsnad", "legevakt-sorumsand"),
        ("eiendomskatten", "eiendomsskatt-2-promille"),
    ],
)
def test_wording_model_reads_letters(shipped_matcher, text: str, entry_id: str) -> None:
    from bot.core.matcher.wording import build_wording

    model = build_wording(shipped_matcher.kb.entries)
    scores = model.scores(text)
    assert shipped_matcher.kb.entries[int(scores.argmax())].id == entry_id
    assert 0.0 < float(scores.max()) <= 1.0 + 1e-9


def test_wording_model_scores_nothing_for_unknown_letters(shipped_matcher) -> None:
    from bot.core.matcher.wording import build_wording

    model = build_wording(shipped_matcher.kb.entries)
    assert float(model.scores("").max()) == 0.0
    assert float(model.scores("qqqq xxxx zzzz").max()) == 0.0


def test_story_carries_a_vague_question_when_both_readers_agree(shipped_matcher) -> None:
    # The question alone ("Stemmer det?") names nothing; the story names the topic, and
    # both the rule-based scorer and the wording model put the same entry first.
    story = (
        "Vi har bodd på Fetsund i mange år og har alltid hatt kort vei til legevakta "
        "på Sørumsand. Naboen sier at den skal legges ned."
    )
    result = shipped_matcher.match("Stemmer det?", context=story, context_weight=1.0)
    assert result.outcome == ANSWERED
    assert result.best is not None
    assert result.best.entry_id == "legevakt-sorumsand"
    assert result.inferred  # found through the story, not the question's own words


@pytest.mark.parametrize(
    ("message", "inferred"),
    [
        ("Blir legevakten på Sørumsand beholdt?", False),
        ("Skal legevakta på Sørumsand legges ned? Naboen sa det i dag.", False),
        # The story leans in, but the question alone finds the same passage.
        ("Jeg har tre barn. Blir det gratis skolemat?", False),
        (
            "Far min er 84. Han har falt to ganger i vinter, men vil så gjerne bo hjemme. "
            "Skal han kunne det?",
            True,
        ),
    ],
)
def test_an_answer_found_through_the_story_says_how_the_question_was_read(
    shipped_matcher: Matcher, message: str, inferred: bool
) -> None:
    from bot.core.dialogue import respond

    reply = respond(shipped_matcher.kb, shipped_matcher, message).reply
    assert reply.outcome == ANSWERED
    assert reply.result.inferred is inferred
    assert reply.entry is not None
    line = f"Jeg forstår det slik at du spør om «{reply.entry.label}»."
    assert reply.as_text().startswith(line) is inferred
    assert reply.as_html().startswith(line) is inferred
    assert reply.as_text().count("«") >= 1


def test_previous_question_is_not_read_as_a_story(shipped_matcher) -> None:
    # A conversation's old topic must not carry a new question by agreement alone.
    result = shipped_matcher.match(
        "og hva med svømmehallen?",
        context="Blir legevakten på Sørumsand beholdt?",
        context_weight=0.35,
        story=False,
    )
    assert not (result.answered and result.best and result.best.entry_id == "legevakt-sorumsand")


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("Har Lørenskog også to barnehageopptak i året?", "Lørenskog"),
        ("Hvor høy er eiendomsskatten i Rælingen?", "Rælingen"),
        ("Hvor mange representanter fikk Arbeiderpartiet i kommunestyret?", "Arbeiderpartiet"),
    ],
)
def test_a_name_the_passage_never_uses_gets_an_honest_partial_answer(
    shipped_matcher: Matcher, question: str, name: str
):
    result = shipped_matcher.match(question)
    assert result.outcome == RELATED
    reply = compose(shipped_matcher.kb, result)
    assert f"Dokumentene sier ikke noe om {name}." in reply.as_text()


def test_which_ones_the_passage_does_not_name_gets_an_honest_partial_answer(
    shipped_matcher: Matcher,
):
    result = shipped_matcher.match("Hvilke skoler får paviljonger?")
    assert (result.outcome, result.missing) == (RELATED, "name")
    reply = compose(shipped_matcher.kb, result)
    assert "Dokumentene sier ikke noe om hvilke det gjelder." in reply.as_text()


def test_every_kind_of_missing_fact_has_words_in_both_languages():
    from bot.core import facts
    from bot.core.messages import MESSAGES

    kinds = {*facts._INTENT_KIND.values(), *facts._HELD_BY, *text.CUE_KIND.values()}
    kinds |= {"person", "howto", "now", "detail"}
    for language in ("nb", "en"):
        assert {k for k in kinds if f"missing_{k}" not in MESSAGES[language]} == set()


@pytest.mark.parametrize(
    "question",
    [
        "Blir legevakten på Sørumsand beholdt?",
        "Skal Lillestrøm ha gratis SFO for barn med funksjonsnedsettelser?",
        "Kommer det nytt helsehus i Lillestrøm?",
    ],
)
def test_the_municipalitys_own_places_do_not_count_as_other_names(
    shipped_matcher: Matcher, question: str
):
    assert shipped_matcher.match(question).outcome == ANSWERED


@pytest.mark.parametrize("greeting", ["hei", "takk", "tusen takk!"])
def test_small_talk_after_an_answer_is_not_a_follow_up(shipped_matcher: Matcher, greeting: str):
    from bot.core.dialogue import respond

    kb = shipped_matcher.kb
    before = respond(kb, shipped_matcher, "Blir legevakten på Sørumsand beholdt?", now=0)
    after = respond(kb, shipped_matcher, greeting, topic=before.topic, now=1)
    assert after.reply.outcome == SMALLTALK


@pytest.mark.parametrize(
    ("first", "follow_up", "outcome"),
    [
        # The passage says how long: "hvor lenge?" is answered by it.
        ("Er SFO gratis for barn med funksjonsnedsettelser?", "hvor lenge?", ANSWERED),
        # No passage gives the reason: the one just quoted is all the documents say.
        ("Blir legevakten på Sørumsand beholdt?", "hvorfor?", RELATED),
    ],
)
def test_a_follow_up_with_no_topic_of_its_own_asks_about_the_passage_just_quoted(
    shipped_matcher: Matcher, first: str, follow_up: str, outcome: str
):
    from bot.core.dialogue import respond

    kb = shipped_matcher.kb
    before = respond(kb, shipped_matcher, first, now=0)
    assert before.reply.outcome == ANSWERED
    after = respond(kb, shipped_matcher, follow_up, topic=before.topic, now=1)
    assert after.reply.outcome == outcome
    assert after.reply.entry == before.reply.entry


def test_a_follow_up_naming_a_place_the_passage_does_not_gets_an_honest_partial_answer(
    shipped_matcher: Matcher,
):
    from bot.core.dialogue import respond

    kb = shipped_matcher.kb
    before = respond(kb, shipped_matcher, "Blir legevakten på Sørumsand beholdt?", now=0)
    after = respond(kb, shipped_matcher, "og hva med Fet?", topic=before.topic, now=1)
    assert after.reply.outcome == RELATED
    assert after.reply.as_text().startswith("Dokumentene sier ikke noe om Fet.")
    assert after.reply.entry == before.reply.entry


def test_two_questions_each_fitting_two_passages_are_read_together(shipped_matcher: Matcher):
    from bot.core.dialogue import respond

    message = "Skal nye kommunale bygg være plusshus, og får de solceller på taket?"
    reply = respond(shipped_matcher.kb, shipped_matcher, message).reply
    assert reply.outcome == ANSWERED
    assert reply.entry is not None
    assert reply.entry.id == "kommunale-bygg-plusshus-solceller"
    assert not reply.more  # one passage answers both: given once, no "mente du" beside it


@pytest.mark.parametrize(
    ("question", "entry_id"),
    [
        # The second part ("lillestrom") ties dozens of entries; the first, rarer part
        # reaches the right one first, and ties are kept in the order they are reached.
        ("badelandlillestrøm", "svommeanlegg-badeland"),
        ("klimafyrtarnlillestrom", "klimafyrtarn"),
    ],
)
def test_ties_on_a_common_word_keep_the_entry_the_rarer_word_reached(
    shipped_matcher, question: str, entry_id: str
):
    result = shipped_matcher.match(question)
    assert result.outcome == ANSWERED
    assert result.best is not None
    assert result.best.entry_id == entry_id


@pytest.mark.parametrize(
    ("passage", "held"),
    [
        ("Et nytt helsehus skal bygges på Kjeller.", True),
        ("Legevakten ved Sørumsand skal beholdes.", True),
        ("Det skal bygges flere nærsentre.", True),
        # A capitalised word alone names a party or the municipality, not where.
        ("Plattformen er vedtatt av AP, SP, MDG, SV og KrF.", False),
        ("Lillestrøm kommune skal ha en klimaplan som Kommunestyret vedtar.", False),
        # "at" joins a clause ("for at Lillestrøm skal …"), it does not locate.
        ("Det skal jobbes for at Lillestrøm blir en grønn kommune.", False),
    ],
)
def test_a_passage_holds_a_place_only_where_it_says_where(passage: str, held: bool):
    from bot.core.facts import holds

    assert holds(passage, "place") is held


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("hva gjør de der?", True),
        ("og kva skal vere der?", True),
        ("how does it work?", True),
        ("hvorfor det?", False),
        ("når åpner det?", False),
        # A question word alone is not enough: these ask for more, or about another topic.
        ("hva med de andre?", False),
        ("hvordan det?", False),
        ("hva da?", False),
        ("hva mener du?", False),
    ],
)
def test_a_question_asking_what_something_is_or_does_is_recognised(question: str, expected: bool):
    from bot.core.facts import asks_description

    assert asks_description(question) is expected


@pytest.mark.parametrize(
    "question",
    [
        "Hvilket år ble kommunene slått sammen?",
        "Hvilken dato vedtok Stortinget det?",
        "which date?",
    ],
)
def test_asking_which_year_or_date_asks_for_a_time(question: str):
    from bot.core.facts import asked_kinds

    assert "time" in asked_kinds(question, [])


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("klarte de det?", True),
        ("Nådde kommunen målet om klimanøytral drift?", True),
        ("did they manage it?", True),
        ("Skal kommunen klare å kutte utslippene?", False),
        ("Hva er klimamålet?", False),
        # Asked of the plan, not of how it went.
        ("Skal kommunen lykkes med klimamålene?", False),
        ("Klarer kommunen å kutte utslippene innen 2030?", False),
        ("Did the municipality actually manage to become climate neutral?", True),
    ],
)
def test_asking_how_it_turned_out_is_recognised(question: str, asks: bool):
    from bot.core.facts import asked_kinds

    assert ("outcome" in asked_kinds(question, [])) is asks


def test_how_a_plan_turned_out_gets_an_honest_partial_answer(shipped_matcher: Matcher):
    from bot.core.dialogue import respond

    kb = shipped_matcher.kb
    first = respond(kb, shipped_matcher, "Hvor mye skal utslippene kuttes innen 2030?", now=0)
    assert first.reply.outcome == ANSWERED
    after = respond(kb, shipped_matcher, "klarte de det?", topic=first.topic, now=1)
    assert after.reply.outcome in (RELATED, DECLINED)


@pytest.mark.parametrize(
    ("question", "cue"),
    [
        ("Hva er nettadressen til kommunen?", "contact"),
        ("Hva er kveldsåpningstidene?", "hours"),
        ("Hva er adressen?", "contact"),
        ("Skal skolene ha felles adresse?", "contact"),
        # A mobile phone is a thing, not a number to call.
        ("Får elevene ha mobiltelefon på skolen?", None),
    ],
)
def test_a_compound_ending_in_a_cue_asks_what_the_cue_asks(question: str, cue: str | None):
    from bot.core.text import CUE_KIND, content_stems

    kinds = {CUE_KIND.get(t) for t in content_stems(question) if t.startswith("!")}
    assert cue in kinds if cue else not kinds


def test_wording_lead_is_how_far_an_entry_is_ahead_of_the_best_other(shipped_matcher) -> None:
    model = shipped_matcher.wording
    scores = model.scores("legevakta på sørumsand")
    first, second = (int(i) for i in scores.argsort()[::-1][:2])
    lead = model.lead("legevakta på sørumsand", first)
    assert lead is not None
    assert lead == pytest.approx(float(scores[first] - scores[second]))
    behind = model.lead("legevakta på sørumsand", second)
    assert behind is not None
    assert behind == pytest.approx(-lead)
    assert model.lead("qqqq xxxx zzzz", first) is None


def test_a_tie_in_the_wording_model_is_no_agreement(tmp_path: Path) -> None:
    """Two entries sharing a wording (their keywords) fit a story equally: no answer by
    agreement, whichever the rule-based scorer puts first."""
    entries = CUE_ENTRIES.replace(
        "    questions: [Får helsestasjonen for ungdom lengre åpningstid?]\n",
        "    questions: [Får helsestasjonen for ungdom lengre åpningstid?]\n"
        "    keywords: [ungdomshelse, kveldsåpent tilbud]\n",
    ).replace(
        "    questions: [Blir legevakten på Nordby beholdt?]\n",
        "    questions: [Blir legevakten på Nordby beholdt?]\n"
        "    keywords: [ungdomshelse, kveldsåpent tilbud]\n",
    )
    matcher = build_matcher(tmp_path, "cue", CUE_SOURCE, entries)
    story = "Datteren min er seksten. Hun trenger ungdomshelse og et kveldsåpent tilbud."
    scores = matcher.wording.scores(f"{story} Har dere det?")
    assert scores[0] == scores[1]
    result = matcher.match("Har dere det?", context=story, context_weight=1.0)
    assert result.outcome != ANSWERED
