"""What the matcher decides: outcomes, candidates, results and the calibrated thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bot.core.events import Outcome

if TYPE_CHECKING:
    import numpy.typing as npt

# One vocabulary for outcomes, shared with the edges (the question log, the channels).
ANSWERED = Outcome.ANSWERED
AMBIGUOUS = Outcome.AMBIGUOUS
DECLINED = Outcome.DECLINED
SMALLTALK = Outcome.SMALLTALK
RELATED = Outcome.RELATED


class Sliced(Protocol):
    """An array read a slice at a time: a numpy array, or a large one a cache file
    holds, read from the file slice by slice (see core.cache)."""

    def __len__(self) -> int: ...

    def __getitem__(self, key: slice, /) -> npt.NDArray[Any]: ...


@dataclass(frozen=True)
class Settings:
    """Weights and thresholds of the matcher, calibrated on the development set."""

    answer_threshold: float = 58.0
    gap_weight: float = 0.5
    answer_floor: float = 52.0
    min_gap: float = 8.0
    alternative_threshold: float = 50.0
    ambiguity_margin: float = 15.0
    max_alternatives: int = 3
    candidates: int = 12
    coverage_weight: float = 0.4
    fit_weight: float = 0.5
    # Field weights: a word in a resident phrasing says more than one in the passage.
    phrasing_weight: float = 1.0
    keyword_weight: float = 0.9
    keyword_fit: float = 0.85
    # Entries with fewer phrasings are fitted against their passage's sentences too.
    few_phrasings: int = 3
    answer_weight: float = 0.75
    section_weight: float = 0.5
    compound_part: float = 0.8
    prefix_strength: float = 0.75
    typo_cutoff: float = 80.0
    short_typo_cutoff: float = 88.0
    typo_min_length: int = 5
    long_unknown: int = 7
    short_unknown_scale: float = 0.5
    # A phrasing word matched only by one part of a compound ("kommune" in
    # "kommuneøkonomi") fits less than the whole word.
    part_fit: float = 0.6
    # Share of the score from the whole wording, stop words kept: "hva går skatten til"
    # and "hva skjer med skatten" share every content word but not their shape.
    surface_weight: float = 0.2
    # A cue word ("telefonnummer", "how do I") matches no entry; it weighs against every
    # entry like half an unknown word, so it lowers confidence without pulling anywhere.
    cue_weight: float = 0.5
    # Words around the question (a story before it, the previous question of a
    # conversation) count this much of the question's own words.
    context_weight: float = 0.35
    # A vague question ("Stemmer det?", "Blir det mer av dem?") leans on its story:
    # with at most this many topic words of its own, the story counts in full measure.
    vague_words: float = 2
    vague_context_weight: float = 1.0
    # Many story words dilute every entry's score: a vague question answered from its
    # story needs a lower score, but a clear lead over the runner-up.
    story_floor: float = 35.0
    story_gap: float = 9.0
    follow_up_weight: float = 0.35
    # A follow-up landing on the passage just quoted is answered by it again when the
    # passage's entry holds at least this share of the follow-up's own topic words.
    follow_up_cover: float = 0.5
    # A message with a story is answered when the rule-based scorer's first entry is
    # also the n-gram wording model's first, more than this far ahead of its next, with
    # at least this rule score (see Matcher._agreed). A negative lead (-0.02: the
    # wording model's near-ties) gained long messages on the development sets but only
    # a wrong answer on fresh held-out ones, so it stays 0.
    agree_floor: float = 30.0
    agree_lead: float = 0.0
    # A question within this fuzz.ratio of an entry's phrasing or title is that entry's.
    exact_ratio: float = 95.0


@dataclass(frozen=True)
class Candidate:
    """An entry considered for a question, with its score (0–100) and closest phrasing."""

    entry_id: str
    score: float
    question: str


@dataclass(frozen=True)
class MatchResult:
    """What the matcher made of a question."""

    question: str
    outcome: Outcome
    best: Candidate | None = None
    alternatives: tuple[Candidate, ...] = ()
    ranked: tuple[Candidate, ...] = ()
    smalltalk: str | None = None
    language: str = "nb"
    # For RELATED: the kind of fact asked for that the passage does not hold.
    missing: str | None = None
    # For ANSWERED: found through the story around the question (a vague question leaning
    # on it, or both readers agreeing), not by the question's own words ("Stemmer det?"),
    # so the reply says what the bot took the question to be: a misreading shows.
    inferred: bool = False

    @property
    def answered(self) -> bool:
        return self.outcome == ANSWERED
