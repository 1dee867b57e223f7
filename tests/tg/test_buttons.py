"""Buttons: "Mente du …?" choices, stale and unknown presses."""

from __future__ import annotations

from .support import AMBIGUOUS, USER, Harness, blockquotes


async def test_did_you_mean_buttons_give_the_chosen_answer(bot: Harness) -> None:
    clarification = await bot.ask(AMBIGUOUS)

    assert "Mente du" in clarification.text
    assert clarification.message.get("reply_to_message")  # it quotes the question
    data = clarification.callback_data
    assert data
    assert all(d.startswith("a:eiendomsskatt-") for d in data)
    assert all(len(b["text"]) <= 60 for b in clarification.buttons)

    await bot.press(USER, clarification, data[0])
    edited = bot.standin.sent_messages[-1]
    assert edited.method == "editMessageText"
    assert edited.message_id == clarification.message_id
    assert blockquotes(edited)
    assert edited.callback_data[0].startswith("v:")

    rows = await bot.rows()
    assert [r["outcome"] for r in rows] == ["ambiguous", "answered"]
    assert rows[0]["alternatives"].count("eiendomsskatt-") == len(data)
    assert rows[1]["question"] == AMBIGUOUS
    assert rows[1]["entry_id"] == data[0].removeprefix("a:")
    assert rows[1]["score"] is None  # picked by the resident, not matched


async def test_stale_and_unknown_buttons_are_answered(bot: Harness) -> None:
    welcome = await bot.command(USER, "start")
    stale = ("zzz", "q:99", "a:no-such-entry", "v:bad ref:1", "v:abcdefghij:7", "te:x:y", "k:99")
    for data in stale:
        await bot.press(USER, welcome, data, check_button=False)
        assert "virker ikke lenger" in bot.standin.answered_callbacks[-1]["text"]
    assert len(bot.standin.answered_callbacks) == len(stale)
