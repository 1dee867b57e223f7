"""Inline mode: articles Telegram accepts, and one log row per pause in typing."""

from __future__ import annotations

from bot.core.messages import EXAMPLE_QUESTIONS

from .support import DECLINED, LEGEVAKT_PASSAGE, OTHER, USER, Harness


async def test_inline_queries_get_valid_articles_and_one_log_row(bot: Harness) -> None:
    s = bot.standin
    for partial in ("le", "legevakt", "legevakt sørumsand"):
        s.push_inline_query(USER, partial)
    await s.wait_for(lambda: len(s.inline_answers) == 3)
    answer = s.inline_answers[-1]
    assert answer["is_personal"] in (True, "true", "True")
    assert int(answer["cache_time"]) <= 30
    [result] = answer["results"]
    assert result["type"] == "article"
    assert result["id"] == "legevakt-sorumsand"
    assert LEGEVAKT_PASSAGE[:40] in result["description"]
    assert result["input_message_content"]["parse_mode"] == "HTML"
    assert "<blockquote>" in result["input_message_content"]["message_text"]

    s.push_inline_query(OTHER, "eiendomsskatt")
    s.push_inline_query(OTHER + 1, DECLINED)
    s.push_inline_query(OTHER + 2, "")
    await s.wait_for(lambda: len(s.inline_answers) == 6)
    ambiguous, declined, empty = (a["results"] for a in s.inline_answers[3:])
    assert 2 <= len(ambiguous) <= 3
    assert len(declined) == 1
    assert "lillestrom.kommune.no" in declined[0]["input_message_content"]["message_text"]
    assert [r["title"] for r in empty] == list(EXAMPLE_QUESTIONS)

    # Keystrokes are recorded once per user, after the typing pause; empty queries never.
    rows = await bot.standin.wait_for(lambda: len(bot.rows_now()) == 3 and bot.rows_now())
    by_question = {r["question"]: r for r in rows}
    assert set(by_question) == {"legevakt sørumsand", "eiendomsskatt", DECLINED}
    assert {r["channel"] for r in rows} == {"inline"}
