"""The wording model's vectorised scores equal the plain definition, exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot.core.matcher.wording import build_wording, grams


def plain_scores(model, text: str) -> np.ndarray:
    """Each entry's closest phrasing's cosine, n-gram by n-gram, as first written."""
    query = [
        (model.columns[g], (1.0 + math.log(c)) * float(model.idf[model.columns[g]]))
        for g, c in grams(text).items()
        if g in model.columns
    ]
    norm = math.sqrt(sum(w * w for _, w in query))
    best = np.zeros(model.entries)
    if not norm:
        return best
    by_phrasing = np.zeros(len(model.owner))
    for k, weight in query:
        lo, hi = model.starts[k], model.starts[k + 1]
        np.add.at(by_phrasing, model.rows[lo:hi], model.values[lo:hi] * (weight / norm))
    np.maximum.at(best, model.owner, by_phrasing)
    return best


@pytest.mark.parametrize(
    "text",
    [
        "blir legevakten på Sørumsand beholdt?",
        "Vi har bodd på Fetsund lenge. Nå hører jeg at legevakta skal legges ned. Stemmer det?",
        "eiendomsskatt",
        "qqqq zzzz",  # no known n-gram: every score is 0
    ],
)
def test_scores_equal_the_plain_definition(shipped_kb, text: str) -> None:
    model = build_wording(shipped_kb.entries)
    assert np.array_equal(model.scores(text), plain_scores(model, text))
