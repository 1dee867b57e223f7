"""The in-memory state: short keys for long button data, the per-user question limit."""

from __future__ import annotations

import asyncio

from bot.core.events import Channel, Outcome, QuestionEvent
from bot.telegram.state import CallbackKeys, InlineRecorder, QuestionLimiter, fits

LONG = "te:abcdefghij:" + "x" * 60


def test_callback_keys_stand_in_only_for_data_too_long_for_telegram() -> None:
    keys = CallbackKeys(capacity=2)
    assert keys.fit("a:short-id") == "a:short-id"
    assert not fits(LONG)
    key = keys.fit(LONG)
    assert key.startswith("k:")
    assert fits(key)
    assert keys.expand(key) == LONG
    assert keys.expand("v:abcd:1") == "v:abcd:1"
    assert keys.expand(None) == ""
    assert keys.expand("k:99") == ""
    # The oldest keys are forgotten beyond the capacity; their buttons go stale.
    keys.fit(LONG + "1")
    keys.fit(LONG + "2")
    assert keys.expand(key) == ""


def test_a_button_kind_pattern_matches_its_prefix_also_behind_a_short_key() -> None:
    keys = CallbackKeys()
    key = keys.fit(LONG)
    teach_entry, teach_question = keys.kind("te"), keys.kind("t")
    assert teach_entry(key)
    assert teach_entry("te:ref:id")
    assert not teach_question(key)
    assert teach_question("t:ref")
    assert not teach_entry("k:99")
    assert not teach_entry(None)


def test_the_limiter_answers_then_notifies_once_then_drops() -> None:
    limiter = QuestionLimiter(2, window=60.0)
    assert [limiter.check(1) for _ in range(5)] == ["ok", "ok", "notify", "drop", "drop"]
    assert limiter.check(2) == "ok"


def inline(question: str) -> QuestionEvent:
    """Returns an inline question event, as the inline handler builds them."""
    return QuestionEvent(question, Channel.INLINE, Outcome.DECLINED, latency_ms=1.0)


async def test_the_inline_recorder_keeps_only_the_last_query_of_a_pause() -> None:
    recorded: list[QuestionEvent] = []
    recorder = InlineRecorder(recorded.append, delay=0.05)
    recorder.offer(1, inline("le"))
    recorder.offer(1, inline("legevakt"))
    recorder.offer(2, inline("skole"))
    recorder.flush()
    assert sorted(e.question for e in recorded) == ["legevakt", "skole"]
    recorder.offer(3, inline("bibliotek"))
    await asyncio.sleep(0.1)
    assert recorded[-1].question == "bibliotek"
