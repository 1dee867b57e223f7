"""Norwegian-aware text normalisation: cleaning, tokens, stop words, stems and folding.

Residents write bokmål, nynorsk, dialect and English, often without æ/ø/å. Every
word goes through the same steps, for questions and for the knowledge base alike:
clean (Unicode NFKC, no control or zero-width characters), lowercase, split into
words, drop words that carry no topic, reduce to a Snowball stem, and fold æ/ø/å
and their ae/oe/aa spellings to one form.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import snowballstemmer

# Questions longer than this are cut before matching, so a 100,000-character message
# costs no more than a long question. No genuine question needs more.
MAX_QUESTION_CHARS = 500

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

_STOP_NB = """
a alle all annen andre at av bare begge bli blir ble blitt både da de dem den denne
der deres det dette dere disse du eller en ene enn er et ett ei etter for fordi fra før
få får fikk gjør gjøre gjort ha hadde har hen her hva hvem hvilke hvilken hvilket hvis
hvor hvordan hvorfor hvorledes han hun hos i ikke ingen inn jeg ja kan kunne kommune
kommunen kommunens litt man med meg men mer mest min mine mitt mot mye må måtte nei noe
noen nok nå når og også om opp oss over på sa sant samme seg selv si sier sin sine sitt
skal skulle slik slike som så sånn til tror uten ut var vel ved vi vil ville vår vårt
våre være vært værende veldig egentlig liksom altså visst vet vite lurer lurte spørsmål lure
fortell fortelle forklar kanskje skje skjer går gå gjelder angår gang ting sagt si sier
ute inne hit dit her der snart greia greie ass åssen assen ka kem dæm dem døm me mæ
æ jæ ikkje itj ittj nåkka noen nån sånt sånne masse mye lissom typ liksom da vel jo
hæ hmm ok okei vet veit skjønner skjønne lurer mener synes syns tenker mi di e te
kor ka kva ko mor
dere deg dykk hjelpe politikerne stemmer stemme riktig
""".split()

_STOP_NN = """
kva kven kvar korleis kvifor kva for eg ho me dei dykk ein eit ikkje ikkje noko nokon
mykje meir fleire berre frå hjå utan vere vore verande værande vert vart blei blitt då no
skal kan vil
må får har ha var er og eller men om at som i på til med av for ved etter før mot seg
sin sitt sine min mitt mine din ditt dine vår vårt våre deira deim kommunen kommune
eigentleg heilt sjølv slik sånn mange korleis
""".split()

_STOP_EN = """
a about after all also am an and any are as at be been before being but by can could did
do does doing done for from get gets getting got had has have having he her here him his
how i if in into is it its just me my no not now of on or our out over please she should
so some tell than that the their them then there these they this those to too under us
very was we were what whats when where which who whom why will with would you your know
want yes any ask asking anyone someone hey lot lots really actually thing things
wondering municipality council's going gonna anything something does platform make sure
happen happens happened happening
""".split()

# Small talk: greetings, thanks, goodbyes and requests for help, recognised on folded
# words so that "hei", "hallo" and "takk" are understood with or without æøå. A message
# is small talk only when every word in it is small talk or a stop word.
SMALLTALK = {
    "help": "hjelp help meny menu info hjelpe".split(),
    "thanks": "takk tusen takker takka tack thanks thank thx ty ok okei okay flott supert".split(),
    "bye": "bye goodbye snakkes hadet hade ha-det".split(),
    "greeting": """hei heisann hallo halla hallais hey hi hello hiya morn morna god dag
        morgen kveld goddag good morning evening afternoon""".split(),
}
# "hva kan du?", "what can you do?": only stop words, but a request for help.
_HELP_PHRASES = (
    "hva kan du",
    "kva kan du",
    "what can you do",
    "who are you",
    "hvem er du",
    "kven er du",
    "hva vet du",
    "kva veit du",
    "what do you know",
)
# Greetings and thanks said alongside a real question carry no topic.
_NOISE = frozenset("hei heisann hallo halla hey hi hello takk thanks thx".split())

_ENGLISH_MARKERS = set(
    """what who where when why how which is are was were will would should the a an
    and or of in on for to does do did can could kept closed school schools kindergarten
    kindergartens tax property elderly hospital emergency please there their this that""".split()
)
_NORWEGIAN_MARKERS = set(
    """hva hvem hvor hvordan hvorfor når er blir skal kan og eller i på til for det
    den de som om ikke ikkje kva kven kvar korleis eg jeg vi med av er fra frå""".split()
) - {"i"}  # English "I" would count as Norwegian "i"
# Place names carry æøå in English questions too ("Will Sørumsand keep …").
_PLACES = frozenset("lillestrøm sørumsand sørum fetsund blaker øyeren skjærva".split())

_FOLD = [
    ("æ", "e"),
    ("ae", "e"),
    ("ø", "o"),
    ("oe", "o"),
    ("å", "a"),
    ("aa", "a"),
    ("ä", "e"),
    ("ö", "o"),
    ("ü", "u"),
    ("é", "e"),
    ("è", "e"),
    ("ó", "o"),
]

# Snowball stemmer objects keep per-call state and are not thread-safe (PyStemmer says
# so); the knowledge is rebuilt in a worker thread while residents are answered, so
# each thread gets its own.
_stemmers = threading.local()


def _snowball(word: str) -> str:
    """Returns the Snowball (Norwegian) stem of a word, with this thread's stemmer."""
    stemmer = getattr(_stemmers, "norwegian", None)
    if stemmer is None:
        stemmer = _stemmers.norwegian = snowballstemmer.stemmer("norwegian")
    return stemmer.stemWord(word)


def clean(text: str) -> str:
    """Returns text in NFKC without control, format (zero-width) or private-use characters."""
    text = unicodedata.normalize("NFKC", text)
    if text.isprintable():  # the common case, checked in C
        return text
    # Format characters (zero-width space, soft hyphen) sit inside words: drop them.
    # Control characters (newlines, NUL) separate words: make them spaces.
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] != "C":
            out.append(ch)
        elif cat != "Cf":
            out.append(" ")
    return "".join(out)


def cut(text: str, *, limit: int = MAX_QUESTION_CHARS) -> str:
    """Returns the text cut to ``limit`` characters at a word boundary where possible."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ")
    return head[:space] if space > limit // 2 else head


def words(text: str) -> list[str]:
    """Returns the lowercase words of a text, after cleaning and cutting."""
    # Single letters are clitics and stray characters ("går'n", "a"), never a topic.
    return [w for w in _WORD.findall(clean(cut(text)).casefold()) if len(w) > 1 or w.isdigit()]


def surface(text: str) -> str:
    """Returns a text's folded words, stop words kept, sorted: its wording's shape."""
    return " ".join(sorted(fold(w) for w in words(text)))


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """Returns a word with æ/ø/å and their ae/oe/aa spellings folded to e/o/a."""
    for old, new in _FOLD:
        word = word.replace(old, new)
    return word


# Snowball strips suffixes but knows no irregular forms: "slo", "slått" and "slå" get
# three stems, so "hvorfor slo de sammen kommunene" would miss "slått sammen". Each
# line is one word's forms (bokmål, nynorsk); all of them share the first one's stem.
_FORMS = """
slå slår slo slått slåtte slås
vedta vedtar vedtok vedtatt vedtatte vedtas vedteke vedtek vedtekne
ta tar tok tatt tas teke tatte
gi gir gav gitt gis gje gjev gjeve gjevne
velge velger valgte valgt velges velje valde vald
selge selger solgte solgt selges selje selde seld
sette setter satte satt settes
legge legger lagt legges lagd leggje
gå går gikk gått gåes gjekk
få får fikk fått fås fekk
stenge stenger stengte stengt stenges stengje
øke øker økte økt økes auke aukar auka aukast
bygge bygger bygde bygget bygges byggje byggjer
beholde beholder beholdt beholdes behalde beheld behaldt
holde holder holdt holdes halde haldt
fortsette fortsetter fortsatte fortsatt fortsettes
flytte flytter flyttet flytta flyttes
bestemme bestemmer bestemte bestemt bestemmes
prioritere prioriterer prioriterte prioritert prioriteres
redusere reduserer reduserte redusert reduseres
styrke styrker styrket styrka styrkes
skjerpe skjerper skjerpet skjerpa
bie bier biene bien bia
ny nye nytt
sammen saman
vei veien veier veiene veg vegen vegar vegane
utslipp utslippet utslippene utslepp utsleppet utsleppa
telefonnummer telefonnummeret telefonnumre telefonnumrene
sykehjem sykehjemmet sykehjemmene sjukeheim sjukeheimen sjukeheimar sjukeheimane
"""


def _forms_table(table: str) -> dict[str, str]:
    """Returns each listed form mapped to the stem of its line's first word."""
    out: dict[str, str] = {}
    for line in table.strip().splitlines():
        forms = line.split()
        root = fold(_snowball(forms[0]))
        for form in forms:
            out.setdefault(fold(form), root)
    return out


# Built at import, not on first use: stems are cached, and a half-built table seen
# from the reload thread would cache a wrong stem for good.
_FORM_OF = _forms_table(_FORMS)
# Words whose Snowball stem is another word's: "marka" (the forest) is not "mark"
# (the field, as in "dyrka mark").
_OWN_STEM = {"marka": "marka", "markas": "marka"}
# Snowball strips "-lege" as if it were the adjective ending ("offentlege"), so
# "fastlege" became "fast" and found the entry on permanent jobs. Doctors keep theirs.
_DOCTOR = re.compile(
    r"^(fast|skole|skule|kommune|over|sykehjems|sjukeheims|natt|tann|bedrifts|turnus"
    r"|allmenn|privat|barne|spesialist)lege(n|r|ne|ar|ane)?s?$"
)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Returns the folded Snowball stem of a lowercase word."""
    if word in _OWN_STEM:
        return _OWN_STEM[word]
    doctor = _DOCTOR.match(word)
    if doctor:
        return fold(doctor[1]) + "lege"
    return _FORM_OF.get(fold(word)) or fold(_snowball(word))


STOPWORDS: frozenset[str] = frozenset(fold(w) for w in (*_STOP_NB, *_STOP_NN, *_STOP_EN, *_NOISE))
_SMALLTALK_WORDS = {kind: frozenset(fold(w) for w in ws) for kind, ws in SMALLTALK.items()}
_ALL_SMALLTALK = frozenset().union(*_SMALLTALK_WORDS.values())


def is_stopword(word: str) -> bool:
    """Tells whether a lowercase word carries no topic."""
    return fold(word) in STOPWORDS


# What a question asks for says which of two nearby passages answers it ("how many
# live here" wants the population, "why merge" the reasons), so interrogatives become
# intent tokens instead of being dropped with the other stop words.
_INTENT_PAIRS = {
    ("hvor", "mange"): "?antall",
    ("kor", "mange"): "?antall",
    ("how", "many"): "?antall",
    ("hvor", "mye"): "?mengde",
    ("kor", "mykje"): "?mengde",
    ("how", "much"): "?mengde",
    ("hvor", "lenge"): "?varighet",
    ("kor", "lenge"): "?varighet",
    ("how", "long"): "?varighet",
    ("kva", "tid"): "?tid",
}
_INTENT_WORDS = {
    "hvem": "?hvem",
    "kven": "?hvem",
    "who": "?hvem",
    "når": "?tid",
    "when": "?tid",
    "hvorfor": "?hvorfor",
    "kvifor": "?hvorfor",
    "why": "?hvorfor",
    "hvor": "?hvor",
    "kvar": "?hvor",
    "where": "?hvor",
}


# Questions after things the source documents never hold: contact details, opening
# hours, prices in kroner, deadlines, timetables, collection days and the weather. Such
# a word becomes a "!" token. The matcher declines a question whose cue its best entry's
# own words (phrasings, keywords, passage) do not share, so "når åpner biblioteket" is
# declined while a phrasing "får helsestasjonen lengre åpningstid" still finds its
# passage. Words with an everyday second sense ("åpen barnehage", "nok skoler", "next
# term", "naturlig avgang") are left out.
_OUT_OF_SCOPE = {
    fold(w): "!" + stem(w)
    for w in """telefon telefonnummer telefonnr tlf adresse adressa epost e-post email
    phone address åpningstid åpningstider åpningstida åpningstidene opningstid opningstider
    åpner opnar stenger opening opens closes kroner kr koster kostar cost costs price
    prices søknadsfrist søknadsfristen deadline timetable rutetid rutetider
    departure departures today tomorrow tonight idag imorgen ikveld iår thisyear thisweek
    pass passet passport været weather forecast værmelding henting hentes hentet tømming tømmes
    tømt""".split()
}
# Inflections the list does not spell out ("telefonnummeret", "adressen") are caught
# by their stem; a stem shared with an everyday word ("open"/"åpen") is not listed.
_OUT_OF_SCOPE_STEMS = {
    stem(w): _OUT_OF_SCOPE[fold(w)]
    for w in """telefon telefonnummer adresse epost email åpningstid opningstid søknadsfrist
    rutetid departure timetable passport""".split()
}
# "Hvordan søker jeg", "how do I register": a resident asking how to use a service,
# which a political platform never says; only an entry whose phrasings ask it so answers.
HOWTO_CUE = "!howto"
# "Hvordan blir jeg påvirket", "how will I notice" ask about impact, not a service.
_HOWTO = re.compile(
    r"\b(?:(?:hvordan|åssen|assen|korleis|kordan)\s+(?:(?!blir\b|vil\b|kommer\b|merker\b)"
    r"\w+\s+)?(?:jeg|eg|æ|je)|how\s+(?:(?!will\b|am\b|would\b)\w+\s+)?i)\b",
    re.IGNORECASE,
)
# "i dag", "i år", "this year" ask about now, like "idag": the pair becomes one word.
_NOW = re.compile(r"\b(i|this)\s+(dag|morgen|kveld|år|aar|year|week)\b", re.IGNORECASE)
# "Hvem er ordfører": the documents name no office holders, so this cue is always
# declined; the matcher ignores it in phrasings, where it would only be a mistake.
OFFICE_CUE = "!office"
# "Neste buss", "next train": a timetable question, though "neste periode" is not.
_NEXT = frozenset({"neste", "next"})
_DEPARTING = frozenset(
    fold(w)
    for w in """avgang avgangen buss bussen bussar busser tog toget trikk trikken bane banen
    t-bane t-banen båt båten ferje ferja ferga bus train trains tram ferry boat flight fly
    flyet""".split()
)
_OFFICES = frozenset(
    fold(w)
    for w in """ordfører ordføraren ordføreren varaordfører rådmann rådmannen kommunedirektør
    kommunedirektøren kommunaldirektør mayor leder lederen sjef sjefen direktør rektor
    rektoren principal headmaster headteacher styreleder styrelederen""".split()
)


def content_stems(text: str) -> list[str]:
    """Returns the stems of the topic-bearing words and question intents of a text, in order."""
    text = clean(cut(text))
    out = [HOWTO_CUE] if _HOWTO.search(text) else []
    tokens = words(_NOW.sub(r"\1\2", text))
    skip = False
    for i, word in enumerate(tokens):
        if skip:
            skip = False
            continue
        pair = _INTENT_PAIRS.get((fold(word), fold(tokens[i + 1]))) if i + 1 < len(tokens) else None
        if pair is None and i + 1 < len(tokens):
            pair = _INTENT_PAIRS.get((word, tokens[i + 1]))
        if pair is not None:
            out.append(pair)
            skip = True
            continue
        intent = _INTENT_WORDS.get(word)
        if intent is not None:
            out.append(intent)
            continue
        folded = fold(word)
        if word.isdigit() and len(word) == 4 and word > "2023":
            out.append("!" + word)  # a year after the platform's period asks about today
            continue
        cue = _OUT_OF_SCOPE.get(folded) or _OUT_OF_SCOPE_STEMS.get(stem(word))
        if cue is None and folded in _NEXT and i + 1 < len(tokens):
            cue = _OUT_OF_SCOPE["rutetid"] if fold(tokens[i + 1]) in _DEPARTING else None
        if cue is not None:
            out.append(cue)
            continue
        if folded in STOPWORDS:
            continue
        out.append(stem(word))
    if "?hvem" in out and any(fold(w) in _OFFICES for w in tokens):
        out.append(OFFICE_CUE)  # "hvem er ordfører": the documents name no office holders
    return out


def smalltalk_kind(text: str) -> str | None:
    """Returns greeting/thanks/help/bye when the text is only small talk, else None."""
    tokens = [fold(w) for w in words(text)]
    if not tokens or len(tokens) > 8:
        return None
    joined = " ".join(tokens)
    if any(joined.startswith(fold(p)) for p in _HELP_PHRASES) and all(
        t in STOPWORDS or t in _ALL_SMALLTALK for t in tokens
    ):
        return "help"
    if joined in ("ha det", "ha det bra", "ha de", "ha det godt"):
        return "bye"
    if any(t not in _ALL_SMALLTALK and t not in STOPWORDS for t in tokens):
        return None
    for kind in ("help", "thanks", "bye", "greeting"):
        if any(t in _SMALLTALK_WORDS[kind] for t in tokens):
            return kind
    return None


def detect_language(text: str, *, default: str = "nb") -> str:
    """Returns "en" when a text reads as English, else the default ("nb")."""
    tokens = words(text)
    if not tokens:
        return default
    if any(t not in _PLACES and any(ch in t for ch in "æøå") for t in tokens):
        return "nb"
    english = sum(t in _ENGLISH_MARKERS for t in tokens)
    norwegian = sum(t in _NORWEGIAN_MARKERS for t in tokens)
    if english > norwegian and english >= 1:
        return "en"
    return default if english == norwegian else "nb"
