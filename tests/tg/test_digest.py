"""The picture admins get: the chart with /stats, and the weekly digest with its chart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest

from bot.core.errors import ConfigError
from bot.questionlog import Channel, Outcome, QuestionEvent
from bot.questionlog.chart import PNG_MAGIC
from bot.settings import load_settings
from bot.telegram.digest import DIGEST_JOB

from .support import (
    ADMIN,
    DECLINED,
    GROUP,
    LEGEVAKT,
    UNKNOWN_COMMAND,
    USER,
    Harness,
    HarnessFactory,
)

OTHER_ADMIN = 9002
OSLO = ZoneInfo("Europe/Oslo")
CAPTION = "Spørsmål per dag, siste 30 dager"


async def test_an_admin_gets_the_chart_with_stats_and_nobody_else_does(bot: Harness) -> None:
    await bot.ask(LEGEVAKT)
    await bot.ask(DECLINED)
    assert (await bot.command(USER, "stats")).text == UNKNOWN_COMMAND

    stats = await bot.command(ADMIN, "stats")
    assert "Spørsmål: 2 (1 brukere)" in stats.text  # the text summary stays
    [photo] = await bot.standin.wait_for_photos(1, chat_id=ADMIN, timeout=10)
    assert photo.data is not None
    assert photo.data.startswith(PNG_MAGIC)
    assert (photo.width, photo.height) == (1000, 500)
    assert photo.caption == CAPTION
    assert [p.chat_id for p in bot.standin.sent_photos] == [ADMIN]


async def test_the_weekly_digest_reaches_every_admin_with_the_chart(
    make_bot: HarnessFactory,
) -> None:
    bot = await make_bot(bot_admin_ids=frozenset({ADMIN, OTHER_ADMIN}))
    for admin in (ADMIN, OTHER_ADMIN):
        bot.standin.add_user(admin)
    await bot.ask(LEGEVAKT)
    await bot.ask(LEGEVAKT)
    await bot.ask(DECLINED)
    await bot.ask("hvem vant fotball-VM i 1994")
    # The week before: one answered question, logged eight days ago.
    last_week = dt.datetime.now(dt.UTC) - dt.timedelta(days=8)
    bot.log.record(
        QuestionEvent(
            "Blir legevakten beholdt?",
            Channel.PRIVATE,
            Outcome.ANSWERED,
            latency_ms=1.0,
            entry_id="legevakt-sorumsand",
            asked_at=last_week,
        )
    )

    [job] = bot.app.job_queue.get_jobs_by_name(DIGEST_JOB)
    await job.run(bot.app)

    for admin in (ADMIN, OTHER_ADMIN):
        [digest] = [m for m in bot.standin.sent_messages if m.chat_id == admin]
        lines = digest.text.splitlines()
        assert lines[0].startswith("📊 Ukerapport fra boten, ")
        assert "Spørsmål: 4 fra 1 brukere (uka før: 1 fra 0)" in lines
        assert "Besvart: 2 (50 %); uka før: 1 (100 %)" in lines
        assert "2× Blir legevakten på Sørumsand beholdt?" in digest.text
        unanswered = lines[lines.index("Oftest ubesvart") + 1 :]
        assert unanswered == ["2× «Hvem vant fotball-VM i 1994?»"]
        assert "Åpne saker" not in digest.text  # no handover without a staff chat
    first, second = bot.standin.sent_photos
    assert (first.chat_id, second.chat_id) == (ADMIN, OTHER_ADMIN)
    assert first.data is not None
    assert first.data.startswith(PNG_MAGIC)
    assert first.caption == second.caption == CAPTION
    # Uploaded once; the second admin gets it by its file_id.
    assert second.data is None
    assert second.file_id == first.file_id


async def test_the_digest_day_and_time_are_settings(
    make_bot: HarnessFactory, make_app: Callable[..., Harness]
) -> None:
    bot = await make_bot(bot_digest_day="onsdag", bot_digest_time="07:30")
    [job] = bot.app.job_queue.get_jobs_by_name(DIGEST_JOB)
    when = job.next_t.astimezone(OSLO)
    assert (when.strftime("%A"), when.time()) == ("Wednesday", dt.time(7, 30))
    quiet = make_app(bot_digest_day="")
    assert quiet.app.job_queue.get_jobs_by_name(DIGEST_JOB) == ()


@pytest.mark.parametrize(
    ("variable", "value"), [("bot_digest_day", "someday"), ("bot_timezone", "Europe/Lillestrøm")]
)
def test_a_bad_digest_setting_is_named(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable.upper()):
        load_settings(_env_file=None, **{variable: value})


async def test_the_digest_counts_open_handover_cases(make_bot: HarnessFactory) -> None:
    bot = await make_bot(bot_staff_chat_id=GROUP)
    bot.standin.add_user(ADMIN)
    [job] = bot.app.job_queue.get_jobs_by_name(DIGEST_JOB)
    await job.run(bot.app)
    [digest] = await bot.standin.wait_for_messages(1, chat_id=ADMIN)
    assert "Åpne saker hos en person: 0" in digest.text.splitlines()
    assert "Mest spurt om\ningen" in digest.text
