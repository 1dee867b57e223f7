"""The error handler: a failure is logged and the resident gets an apology."""

from __future__ import annotations

import pytest

from .support import AMBIGUOUS, LEGEVAKT, USER, Harness, blockquotes


async def test_a_failure_gets_an_apology_and_the_bot_goes_on(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # Telegram refusing a message is final (never retried); the error handler takes over.
    bot.standin.inject("sendMessage", status=400, description="Bad Request: simulated")
    apology = await bot.ask(LEGEVAKT)
    assert apology.text.startswith("Beklager, noe gikk galt")
    assert "Traceback" not in apology.text
    assert any(r.exc_info and "simulated" in str(r.exc_info[1]).lower() for r in caplog.records)
    assert blockquotes(await bot.ask(LEGEVAKT))


async def test_a_failing_button_is_answered_with_an_apology(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    clarification = await bot.ask(AMBIGUOUS)
    # The edit and the fallback message are both refused, so the button's action fails.
    bot.standin.inject("editMessageText", status=400, description="Bad Request: simulated edit")
    bot.standin.inject("sendMessage", status=400, description="Bad Request: simulated send")

    await bot.press(USER, clarification, clarification.callback_data[0])
    [answer] = bot.standin.answered_callbacks  # answered once, with the apology
    assert answer["text"].startswith("Beklager, noe gikk galt")
    failures = [str(r.exc_info[1]).lower() for r in caplog.records if r.exc_info]
    assert any("simulated send" in failure for failure in failures)
    assert blockquotes(await bot.ask(LEGEVAKT))
