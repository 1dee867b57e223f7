"""Handover to a person: the button, the confirmation, the staff chat, relayed answers, /lukk."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from bot.devtools.standin import SentMessage
from bot.questionlog.privacy import redact_personal_data

from .support import ADMIN, DECLINED, GROUP, LEGEVAKT, USER, Harness, HarnessFactory

STAFF_CHAT = -1002000000009
STAFF_MEMBER = 7001
STAFF_ANSWER = "Det vet vi ikke ennå, men vi tar det med i neste budsjettarbeid."


@pytest.fixture
async def staffed(make_bot: HarnessFactory) -> Harness:
    """A running bot with a staff group for handovers."""
    harness = await make_bot(bot_staff_chat_id=STAFF_CHAT)
    harness.standin.add_chat(STAFF_CHAT, "supergroup", title="Kundesenteret")
    return harness


def cases(database: Path) -> list[sqlite3.Row]:
    """Reads the handover table directly."""
    with contextlib.closing(sqlite3.connect(database)) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM handovers ORDER BY case_no").fetchall()


def handover_data(message: SentMessage) -> str:
    """Returns the data of a message's "Snakk med et menneske" button."""
    found = [d for d in message.callback_data if d.startswith("h:")]
    assert len(found) == 1, message.callback_data
    return found[0]


async def send_case(bot: Harness, question: str = DECLINED) -> tuple[SentMessage, SentMessage]:
    """Asks a question the bot declines, taps the button, confirms; returns the
    resident's confirmation message and the case posted in the staff chat."""
    reply = await bot.ask(question, first_name="Kari", username="kari_nordmann")
    confirm = await bot.reply_to(
        lambda: bot.standin.push_callback(USER, reply, handover_data(reply)), chat_id=USER
    )
    assert "Bare spørsmålet sendes" in confirm.text
    assert redact_personal_data(question) in confirm.text  # what will be sent, redacted
    send = next(d for d in confirm.callback_data if d.startswith("hc:"))
    staff = await bot.reply_to(
        lambda: bot.standin.push_callback(USER, confirm, send), chat_id=STAFF_CHAT
    )
    await bot.standin.wait_for(
        lambda: bot.standin.message(USER, confirm.message_id)["text"].startswith("Sendt!")
    )
    return confirm, staff


async def test_a_declined_question_reaches_staff_without_who_asked(staffed: Harness) -> None:
    confirm, staff = await send_case(staffed)

    assert staff.text.startswith("📨 Sak 1")
    assert DECLINED in staff.text
    for private in ("Kari", "kari_nordmann", str(USER)):
        assert private not in staff.text
    assert "Saksnummeret ditt er 1" in staffed.standin.message(USER, confirm.message_id)["text"]
    [case] = cases(staffed.database)
    assert case["chat_id"] == USER
    assert case["staff_message_id"] == staff.message_id
    assert case["question"] == DECLINED


async def test_staff_reply_is_relayed_and_lukk_closes(staffed: Harness) -> None:
    _, staff = await send_case(staffed)
    standin = staffed.standin

    answer = await staffed.reply_to(
        lambda: standin.push_message(
            STAFF_MEMBER, STAFF_ANSWER, chat_id=STAFF_CHAT, chat_type="supergroup", reply_to=staff
        ),
        chat_id=USER,
    )
    assert answer.text.startswith("💬 Svar fra Lillestrøm kommune (sak 1)")
    assert STAFF_ANSWER in answer.text
    delivered = await standin.wait_for_messages(2, chat_id=STAFF_CHAT)
    assert delivered[-1].text.startswith("✅")

    # Staff talk that replies to anything else is not an answer to anyone.
    chatter = standin.push_message(
        STAFF_MEMBER, "Hvem tar denne?", chat_id=STAFF_CHAT, chat_type="supergroup"
    )
    standin.push_message(
        STAFF_MEMBER + 1,
        "Jeg tar den",
        chat_id=STAFF_CHAT,
        chat_type="supergroup",
        reply_to=chatter["message"],
    )
    closed = await staffed.reply_to(
        lambda: standin.push_command(
            STAFF_MEMBER, "lukk", chat_id=STAFF_CHAT, chat_type="supergroup", reply_to=staff
        ),
        chat_id=STAFF_CHAT,
    )
    assert closed.text == "Sak 1 er lukket."
    # The answer, the confirmation, its edit and the relayed answer: nothing stray.
    assert len([m for m in standin.sent_messages if m.chat_id == USER]) == 4
    [case] = cases(staffed.database)
    assert case["chat_id"] is None  # the way back is forgotten
    assert case["staff_answer"] == STAFF_ANSWER

    late = await staffed.reply_to(
        lambda: standin.push_message(
            STAFF_MEMBER, "En ting til", chat_id=STAFF_CHAT, chat_type="supergroup", reply_to=staff
        ),
        chat_id=STAFF_CHAT,
    )
    assert "ble ikke sendt" in late.text

    # Admins see the staff answer as material for the knowledge base.
    review = await staffed.command(ADMIN, "unanswered")
    assert review.text.startswith("Besvart av ansatte")
    assert STAFF_ANSWER in review.text


async def test_cancel_sends_nothing_and_a_second_confirm_is_refused(staffed: Harness) -> None:
    reply = await staffed.ask(DECLINED)
    data = handover_data(reply)
    confirm = await staffed.reply_to(
        lambda: staffed.standin.push_callback(USER, reply, data), chat_id=USER
    )
    cancel = next(d for d in confirm.callback_data if d.startswith("hx:"))
    await staffed.press(USER, confirm, cancel)
    assert staffed.standin.message(USER, confirm.message_id)["text"] == "Greit, ingenting er sendt."
    assert cases(staffed.database) == []
    assert not [m for m in staffed.standin.sent_messages if m.chat_id == STAFF_CHAT]

    again = await staffed.reply_to(
        lambda: staffed.standin.push_callback(USER, reply, data), chat_id=USER
    )
    send = next(d for d in again.callback_data if d.startswith("hc:"))
    await staffed.press(USER, again, send)
    await staffed.standin.wait_for_messages(1, chat_id=STAFF_CHAT)
    await staffed.press(USER, again, send, check_button=False)  # a double tap
    assert len(cases(staffed.database)) == 1
    assert len([m for m in staffed.standin.sent_messages if m.chat_id == STAFF_CHAT]) == 1


async def test_a_blocked_resident_is_reported_to_staff_once(staffed: Harness) -> None:
    _, staff = await send_case(staffed)
    staffed.standin.block_user(USER)
    notice = await staffed.reply_to(
        lambda: staffed.standin.push_message(
            STAFF_MEMBER, STAFF_ANSWER, chat_id=STAFF_CHAT, chat_type="supergroup", reply_to=staff
        ),
        chat_id=STAFF_CHAT,
    )
    assert "blokkert" in notice.text
    [case] = cases(staffed.database)
    assert case["closed_at"] is not None
    # Telegram refused the relay with 403, as it does after a block: expected here.
    assert [e.status for e in staffed.standin.errors] == [403]
    staffed.standin.errors.clear()


async def test_a_thumbs_down_offers_a_person(staffed: Harness) -> None:
    answer = await staffed.ask(LEGEVAKT)
    assert not [d for d in answer.callback_data if d.startswith("h:")]  # answered: no offer
    vote_down = next(d for d in answer.callback_data if d.endswith(":-1"))
    await staffed.press(USER, answer, vote_down)
    markup = staffed.standin.message(USER, answer.message_id).get("reply_markup")
    data = [b["callback_data"] for row in markup["inline_keyboard"] for b in row]
    assert data == [f"h:{vote_down.split(':')[1]}"]


async def test_no_offer_in_groups_or_without_a_staff_chat(
    staffed: Harness, make_bot: HarnessFactory
) -> None:
    in_group = await staffed.reply_to(
        lambda: staffed.standin.push_message(
            USER, f"@{staffed.app.bot.username} {DECLINED}", chat_id=GROUP, chat_type="supergroup"
        ),
        chat_id=GROUP,
    )
    assert not in_group.callback_data


async def test_without_a_staff_chat_nothing_is_offered(bot: Harness) -> None:
    reply = await bot.ask(DECLINED)
    assert not reply.callback_data


async def test_the_daily_job_lists_waiting_cases_to_staff(staffed: Harness) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.telegram import handover
    from bot.telegram.state import STATE_KEY

    desk = staffed.app.bot_data[STATE_KEY].desk
    assert desk is not None
    await desk.open_case(
        ref="oldcase",
        chat_id=USER,
        user_key=None,
        question="Når tømmes bossdunken?",
        bot_reply="Beklager …",
        language="nb",
        now=datetime.now(UTC) - timedelta(days=5),
    )
    assert staffed.app.job_queue is not None
    [job] = [j for j in staffed.app.job_queue.jobs() if j.callback is handover.remind_and_purge]
    listing = await staffed.reply_to(
        lambda: staffed.app.create_task(job.run(staffed.app)), STAFF_CHAT
    )
    assert listing.text.startswith("Åpne saker som har ventet mer enn 2 dager:")
    assert "Når tømmes bossdunken?" in listing.text


async def test_handover_through_the_real_bot_process(
    standin, shared_answerer, tmp_path: Path
) -> None:
    """The whole round trip with `python -m bot run`: decline, tap, confirm, staff, reply."""
    from .test_runner import Bot, running

    standin.add_chat(STAFF_CHAT, "supergroup", title="Kundesenteret")
    bot = Bot(standin, shared_answerer, tmp_path, BOT_STAFF_CHAT_ID=str(STAFF_CHAT))
    async with running(bot):
        standin.push_message(USER, DECLINED, first_name="Kari", username="kari_nordmann")
        [reply] = await standin.wait_for_messages(1, chat_id=USER, timeout=30)
        standin.push_callback(USER, reply, handover_data(reply))
        confirm = (await standin.wait_for_messages(2, chat_id=USER, timeout=10))[-1]
        send = next(d for d in confirm.callback_data if d.startswith("hc:"))
        standin.push_callback(USER, confirm, send)
        [case] = await standin.wait_for_messages(1, chat_id=STAFF_CHAT, timeout=10)
        assert DECLINED in case.text
        assert "Kari" not in case.text
        assert "kari_nordmann" not in case.text
        standin.push_message(
            STAFF_MEMBER, STAFF_ANSWER, chat_id=STAFF_CHAT, chat_type="supergroup", reply_to=case
        )
        await standin.wait_for(
            lambda: any(STAFF_ANSWER in m.text for m in standin.sent_messages if m.chat_id == USER),
            timeout=10,
        )
        await bot.stop()
    assert bot.process is not None
    assert bot.process.returncode == 0, bot.stderr
    assert "Kari" not in bot.stderr


async def test_the_staff_chat_never_sees_personal_data_the_resident_wrote(
    staffed: Harness,
) -> None:
    question = "Kan jeg ringe dere på 98765432 om bossdunken? Og hva med eiendomsskatten?"
    _, staff = await send_case(staffed, question)
    assert "98765432" not in staff.text
    [case] = cases(staffed.database)
    assert "98765432" not in case["question"]
    assert "98765432" not in case["bot_reply"]


async def test_a_staff_answer_telegram_refuses_is_reported_to_staff(staffed: Harness) -> None:
    _, staff = await send_case(staffed)
    staffed.standin.inject(
        "sendMessage", status=400, description="Bad Request: message is too long"
    )
    notice = await staffed.reply_to(
        lambda: staffed.standin.push_message(
            STAFF_MEMBER, STAFF_ANSWER, chat_id=STAFF_CHAT, chat_type="supergroup", reply_to=staff
        ),
        chat_id=STAFF_CHAT,
    )
    assert "kom ikke fram" in notice.text
    [case] = cases(staffed.database)
    assert case["staff_answer"] is None
    assert case["closed_at"] is None  # still open: staff can try again


async def test_several_staff_replies_to_one_case_are_all_relayed(staffed: Harness) -> None:
    _, staff = await send_case(staffed)
    for text in ("Vi sjekker saken.", "Nå har vi svaret: tømming skjer på tirsdager."):
        relayed = await staffed.reply_to(
            lambda text=text: staffed.standin.push_message(
                STAFF_MEMBER, text, chat_id=STAFF_CHAT, chat_type="supergroup", reply_to=staff
            ),
            chat_id=USER,
        )
        assert text in relayed.text
    # Each relay is confirmed in the staff chat once it is recorded.
    await staffed.standin.wait_for(
        lambda: sum(m.text.startswith("✅") for m in staffed.standin.sent_messages) == 2
    )
    [case] = cases(staffed.database)
    assert case["staff_answer"] == "Nå har vi svaret: tømming skjer på tirsdager."
