"""Tests of the Bot API stand-in, driven by raw HTTP and by a real PTB Bot and Application."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import telegram
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.devtools.standin import (
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    BotApiStandIn,
    EntityParseError,
    parse_html,
)

USER = 4242

# One TLS context for every client: building one per httpx client costs ~25 ms, and PTB makes
# two clients per Bot. Nothing here uses TLS; httpx just insists on preparing it.
_TLS = ssl.create_default_context()


def ptb_request() -> HTTPXRequest:
    """Builds a PTB request object that reuses the shared TLS context."""
    return HTTPXRequest(httpx_kwargs={"verify": _TLS})


@pytest.fixture
async def standin() -> AsyncIterator[BotApiStandIn]:
    """Serves a fresh stand-in for one test."""
    async with BotApiStandIn() as server:
        yield server


@pytest.fixture
async def bot(standin: BotApiStandIn) -> AsyncIterator[telegram.Bot]:
    """Gives an initialised PTB Bot talking to the stand-in."""
    async with telegram.Bot(
        standin.token,
        base_url=standin.base_url,
        base_file_url=standin.base_file_url,
        request=ptb_request(),
        get_updates_request=ptb_request(),
    ) as client:
        yield client


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """Gives a raw HTTP client."""
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    standin: BotApiStandIn,
    method: str,
    *,
    as_json: bool = False,
    **params: Any,
) -> tuple[int, dict[str, Any]]:
    """Calls a method with form (JSON-encoding non-strings, as PTB does) or a JSON body."""
    url = f"{standin.base_url}{standin.token}/{method}"
    if as_json:
        request = http.post(url, json=params)
    else:
        form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        request = http.post(url, data=form)
    async with request as response:
        return response.status, await response.json()


def keyboard(*data: str) -> InlineKeyboardMarkup:
    """Builds a one-row inline keyboard of callback buttons."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(f"Knapp {d}", callback_data=d)] for d in data]
    )


# --------------------------------------------------------------------------- HTML parsing


@pytest.mark.parametrize(
    ("markup", "text", "entities"),
    [
        ("<b>fet</b> tekst", "fet tekst", [(0, 3, "bold")]),
        ("<strong>a</strong><em>b</em><ins>c</ins><del>d</del>", "abcd", None),
        ("a &lt;b&gt; &amp; &quot;c&quot; &#248; &#xE6;", 'a <b> & "c" ø æ', []),
        ('<a href="https://www.lillestrom.kommune.no/">Lenke</a>', "Lenke", [(0, 5, "text_link")]),
        ("<B>x</B><a href=x.no>y</a>", "xy", [(0, 1, "bold"), (1, 1, "text_link")]),
        ('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>', "st", None),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1", [(0, 5, "pre")]),
        ("<blockquote expandable>lang sitat</blockquote>", "lang sitat", None),
        ("😀<b>ø</b>", "😀ø", [(2, 1, "bold")]),
        ("<b><i>nøstet</i></b>", "nøstet", [(0, 6, "bold"), (0, 6, "italic")]),
        ("<b>x</>", "x", [(0, 1, "bold")]),
        ("<b></b>tom", "tom", []),
    ],
)
def test_parse_html_accepts_telegram_markup(
    markup: str, text: str, entities: list[tuple[int, int, str]] | None
) -> None:
    """Valid Telegram HTML gives the visible text and UTF-16 based entities."""
    parsed_text, parsed_entities = parse_html(markup)
    assert parsed_text == text
    if entities is not None:
        assert [(e["offset"], e["length"], e["type"]) for e in parsed_entities] == entities


def test_parse_html_entity_details() -> None:
    """Links, languages, expandable quotes and mentions carry Telegram's extra fields."""
    _, entities = parse_html('<pre><code class="language-python">x</code></pre>')
    assert entities == [{"offset": 0, "length": 1, "type": "pre", "language": "python"}]
    _, entities = parse_html("<blockquote expandable>q</blockquote>")
    assert entities[0]["type"] == "expandable_blockquote"
    _, entities = parse_html('<a href="tg://user?id=123">Kari</a>')
    assert entities[0]["type"] == "text_mention"
    assert entities[0]["user"]["id"] == 123


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("<b>fet", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<p>avsnitt</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("<br/>", 'Unsupported start tag "br/" at byte offset 0'),
        ("ø < 5", 'Unsupported start tag "" at byte offset 3'),
        ("tekst <b", "Unclosed start tag at byte offset 6"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<a href>x</a>", 'Expected equal sign in declaration of an attribute of the tag "a"'),
        ('<a href="x>y</a>', "Unclosed start tag at byte offset 0"),
        ("<a href=https://x.no>x</a>", "Unexpected end of name token at byte offset 8"),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("Q&A", 'Character "&" at byte offset 1 must be escaped as "&amp;"'),
        ("&nbsp;", 'Character "&" at byte offset 0 must be escaped as "&amp;"'),
        ("5 > 3", 'Character ">" at byte offset 2 must be escaped as "&gt;"'),
    ],
)
def test_parse_html_refuses_malformed_markup(markup: str, error: str) -> None:
    """Malformed markup fails with tdlib's description (and the strict extras)."""
    with pytest.raises(EntityParseError) as caught:
        parse_html(markup)
    assert str(caught.value).startswith(error)


def test_parse_html_lenient_mode_matches_telegram() -> None:
    """Without strict mode a bare ">" and an unknown "&" stay literal, as on Telegram."""
    assert parse_html("Q&A 5 > 3 &nbsp;", strict=False) == ("Q&A 5 > 3 &nbsp;", [])


# --------------------------------------------------------------------------- sendMessage via PTB


@pytest.mark.parametrize(
    ("markup", "description"),
    [
        ("<b>fet", "can't parse entities: Can't find end tag corresponding to start tag \"b\""),
        ("<p>x</p>", 'can\'t parse entities: Unsupported start tag "p" at byte offset 0'),
        ("1 < 2", 'can\'t parse entities: Unsupported start tag "" at byte offset 2'),
        ("Q&A", 'can\'t parse entities: Character "&" at byte offset 1'),
    ],
)
async def test_bad_html_raises_bad_request(
    standin: BotApiStandIn, bot: telegram.Bot, markup: str, description: str
) -> None:
    """Bad HTML gives PTB's BadRequest carrying Telegram's description."""
    standin.add_user(USER)
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(USER, markup, parse_mode="HTML")
    [error] = standin.errors
    assert error.description.startswith(f"Bad Request: {description}")
    assert error.status == 400
    assert not error.injected
    # PTB strips "Bad Request: " and capitalises the rest, lower-casing everything else.
    assert caught.value.message.lower().startswith(description.lower())
    assert standin.sent_messages == []


@pytest.mark.parametrize(
    ("text", "parse_mode"),
    [("", None), ("   ", None), ("\n\t \n", None), ("<b> </b>", "HTML"), ("<i></i>", "HTML")],
)
async def test_empty_text_is_refused(
    standin: BotApiStandIn, bot: telegram.Bot, text: str, parse_mode: str | None
) -> None:
    """Empty and whitespace-only texts fail with "message text is empty"."""
    standin.add_user(USER)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(USER, text, parse_mode=parse_mode)
    assert standin.errors[0].description == "Bad Request: message text is empty"


@pytest.mark.parametrize(
    ("text", "parse_mode", "accepted"),
    [
        ("a" * 4096, None, True),
        ("a" * 4097, None, False),
        ("ø" * 4096, None, True),
        ("😀" * 4096, None, True),
        ("😀" * 4097, None, False),
        ("<b>" + "a" * 4096 + "</b>", "HTML", True),
        ("&amp;" * 4096, "HTML", True),
        ("<i>" + "a" * 4097 + "</i>", "HTML", False),
        ("  " + "a" * 4096 + "\n", None, True),
    ],
)
async def test_length_limit_counts_visible_characters(
    standin: BotApiStandIn, bot: telegram.Bot, text: str, parse_mode: str | None, accepted: bool
) -> None:
    """The 4096 limit counts characters after tags, entities and trimming are dealt with."""
    standin.add_user(USER)
    if accepted:
        message = await bot.send_message(USER, text, parse_mode=parse_mode)
        assert len(message.text) == 4096
    else:
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(USER, text, parse_mode=parse_mode)


async def test_sent_message_is_a_full_message(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    """sendMessage answers a full Message and records it; message_ids increase."""
    standin.add_user(USER, first_name="Ola")
    first = await bot.send_message(USER, "<b>Hei</b> &amp; velkommen", parse_mode="HTML")
    second = await bot.send_message(USER, "Neste", reply_markup=keyboard("a"))
    assert second.message_id > first.message_id
    assert first.text == "Hei & velkommen"
    assert first.entities[0].type == "bold"
    assert first.from_user.id == bot.id
    assert first.from_user.username == standin.bot_user["username"]
    assert first.chat.id == USER
    assert first.chat.first_name == "Ola"
    assert second.reply_markup == keyboard("a")
    [one, two] = standin.sent_messages
    assert (one.raw_text, one.text, one.parse_mode) == (
        "<b>Hei</b> &amp; velkommen",
        "Hei & velkommen",
        "HTML",
    )
    assert two.callback_data == ["a"]


async def test_unknown_chat_and_blocked_user(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    """Unknown chats give "chat not found"; a user who blocked the bot gives Forbidden."""
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(999, "Hei")
    standin.add_user(USER)
    standin.block_user(USER)
    with pytest.raises(telegram.error.Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(USER, "Hei")


# --------------------------------------------------------------------------- keyboards


@pytest.mark.parametrize(
    ("data", "accepted"),
    [
        ("a" * 64, True),
        ("a" * 65, False),
        ("ø" * 32, True),  # 64 bytes
        ("ø" * 33, False),  # 66 bytes, 33 characters
        ("€" * 21, True),  # 63 bytes
        ("€" * 22, False),  # 66 bytes
        ("😀" * 16, True),  # 64 bytes
        ("😀" * 16 + "a", False),
        ("", False),
    ],
)
async def test_callback_data_is_limited_to_64_bytes(
    standin: BotApiStandIn, bot: telegram.Bot, data: str, accepted: bool
) -> None:
    """callback_data must be 1–64 UTF-8 bytes, else BUTTON_DATA_INVALID."""
    standin.add_user(USER)
    if accepted:
        message = await bot.send_message(USER, "Velg", reply_markup=keyboard(data))
        assert message.reply_markup.inline_keyboard[0][0].callback_data == data
    else:
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await bot.send_message(USER, "Velg", reply_markup=keyboard(data))


@pytest.mark.parametrize(
    ("markup", "description"),
    [
        ({"inline_keyboard": {"a": 1}}, 'field "inline_keyboard" must be of type Array'),
        ({"inline_keyboard": None}, 'field "inline_keyboard" must be of type Array'),
        (
            {"inline_keyboard": [{"text": "x"}]},
            'field "inline_keyboard" must be an Array of Arrays',
        ),
        ({"inline_keyboard": [["x"]]}, "InlineKeyboardButton must be an Object"),
        ({"inline_keyboard": [[{"callback_data": "x"}]]}, 'Field "text" must be of type String'),
        (
            {"inline_keyboard": [[{"text": "x"}]]},
            "Text buttons are unallowed in the inline keyboard",
        ),
        ({"inline_keyboard": [[{"text": " ", "callback_data": "x"}]]}, "BUTTON_TEXT_INVALID"),
        ({"inline_keyboard": [[{"text": "x", "url": "ikke en url"}]]}, "BUTTON_URL_INVALID"),
        ({"keyboard": [[{"text": ""}]]}, "BUTTON_TEXT_INVALID"),
        ({"nonsense": True}, "can't parse reply keyboard markup JSON object"),
    ],
)
async def test_malformed_keyboards_are_refused(
    standin: BotApiStandIn,
    http: aiohttp.ClientSession,
    markup: dict[str, Any],
    description: str,
) -> None:
    """Keyboards of the wrong shape fail as on Telegram."""
    standin.add_user(USER)
    status, body = await call(
        http, standin, "sendMessage", chat_id=USER, text="Velg", reply_markup=markup
    )
    assert status == 400
    assert body["ok"] is False
    assert body["error_code"] == 400
    assert description in body["description"]


async def test_reply_keyboards_are_accepted_but_not_echoed(
    standin: BotApiStandIn, bot: telegram.Bot
) -> None:
    """Reply keyboards pass; like Telegram, the returned Message carries only inline markup."""
    standin.add_user(USER)
    message = await bot.send_message(
        USER, "Velg", reply_markup=telegram.ReplyKeyboardMarkup([["Ja", "Nei"]])
    )
    assert message.reply_markup is None
    removed = await bot.send_message(USER, "Ok", reply_markup=telegram.ReplyKeyboardRemove())
    assert removed.reply_markup is None


# --------------------------------------------------------------------------- edits and callbacks


async def test_edit_message_text_rules(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    """Edits need a known bot message and a change; leaving out the markup removes it."""
    update = standin.push_message(USER, "Spørsmål")
    sent = await bot.send_message(USER, "Svar", reply_markup=keyboard("mer"))

    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("Nytt", chat_id=USER, message_id=9999)
    with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
        await bot.edit_message_text("Nytt", USER, update["message"]["message_id"])
    with pytest.raises(BadRequest) as caught:
        await bot.edit_message_text("Svar", USER, sent.message_id, reply_markup=keyboard("mer"))
    assert standin.errors[-1].description == NOT_MODIFIED
    assert caught.value.message.lower() == NOT_MODIFIED.removeprefix("Bad Request: ").lower()

    edited = await bot.edit_message_text("Svar", USER, sent.message_id)
    assert edited.reply_markup is None
    assert edited.edit_date is not None
    assert [m.method for m in standin.sent_messages] == ["sendMessage", "editMessageText"]

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=None)
    await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=keyboard("x"))
    assert standin.message(USER, sent.message_id)["reply_markup"] == keyboard("x").to_dict()

    assert await bot.delete_message(USER, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(USER, sent.message_id)


async def test_callback_queries_are_answered_once(
    standin: BotApiStandIn, bot: telegram.Bot
) -> None:
    """A callback query can be answered once; unknown ids and long texts fail."""
    standin.add_user(USER)
    sent = await bot.send_message(USER, "Velg", reply_markup=keyboard("ja", "nei"))
    query = standin.push_callback(USER, standin.sent_messages[0], "ja")["callback_query"]
    assert query["message"]["message_id"] == sent.message_id
    with pytest.raises(ValueError, match="no button"):
        standin.push_callback(USER, standin.sent_messages[0], "kanskje")

    with pytest.raises(BadRequest, match=r"(?i)message_too_long"):
        await bot.answer_callback_query(query["id"], text="x" * 201)
    assert await bot.answer_callback_query(query["id"], text="x" * 200)
    with pytest.raises(BadRequest) as caught:
        await bot.answer_callback_query(query["id"])
    assert standin.errors[-1].description == QUERY_TOO_OLD
    assert "query is too old" in caught.value.message.lower()
    with pytest.raises(BadRequest, match=r"(?i)query id is invalid"):
        await bot.answer_callback_query("12345")
    assert [a["text"] for a in standin.answered_callbacks] == ["x" * 200]


# --------------------------------------------------------------------------- inline queries


def article(result_id: str, text: str = "Svar", parse_mode: str | None = None) -> dict[str, Any]:
    """Builds an InlineQueryResultArticle as JSON."""
    content: dict[str, Any] = {"message_text": text}
    if parse_mode:
        content["parse_mode"] = parse_mode
    return {"type": "article", "id": result_id, "title": "T", "input_message_content": content}


@pytest.mark.parametrize(
    ("results", "description"),
    [
        ([article(str(i)) for i in range(51)], "Bad Request: RESULTS_TOO_MUCH"),
        ([article("a"), article("a")], "Bad Request: RESULT_ID_DUPLICATE"),
        ([article("ø" * 33)], "Bad Request: RESULT_ID_INVALID"),
        ([article("")], "Bad Request: RESULT_ID_EMPTY"),
        ([article("1", "<b>x", "HTML")], "Bad Request: can't parse entities: Can't find end tag"),
        ([article("1", " ")], "Bad Request: message text is empty"),
        ([article("1", "a" * 4097)], "Bad Request: message is too long"),
    ],
)
async def test_inline_answers_are_validated(
    standin: BotApiStandIn,
    http: aiohttp.ClientSession,
    results: list[dict[str, Any]],
    description: str,
) -> None:
    """answerInlineQuery checks count, ids and message texts."""
    query = standin.push_inline_query(USER, "barnehage")["inline_query"]
    status, body = await call(
        http, standin, "answerInlineQuery", inline_query_id=query["id"], results=results
    )
    assert status == 400
    assert body["description"].startswith(description)
    assert standin.inline_answers == []


async def test_inline_query_is_answered_once(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    """A valid answer is recorded; a second answer gets "query is too old"."""
    query = standin.push_inline_query(USER, "skole")["inline_query"]
    result = telegram.InlineQueryResultArticle(
        "1" * 64, "Skole", telegram.InputTextMessageContent("<b>Skoler</b>", parse_mode="HTML")
    )
    assert await bot.answer_inline_query(query["id"], [result])
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_inline_query(query["id"], [result])
    [answer] = standin.inline_answers
    assert answer["results"][0]["input_message_content"]["message_text"] == "<b>Skoler</b>"


# --------------------------------------------------------------------------- commands


@pytest.mark.parametrize(
    ("commands", "description"),
    [
        ([{"command": "Start", "description": "Start"}], "Bad Request: BOT_COMMAND_INVALID"),
        ([{"command": "spør", "description": "Spør"}], "Bad Request: BOT_COMMAND_INVALID"),
        ([{"command": "a-b", "description": "x"}], "Bad Request: BOT_COMMAND_INVALID"),
        (
            [{"command": "a" * 33, "description": "x"}],
            "Bad Request: command length must not exceed 32",
        ),
        ([{"command": " ", "description": "x"}], "Bad Request: command must be non-empty"),
        (
            [{"command": "hjelp", "description": "  "}],
            "Bad Request: command description must be non-empty",
        ),
        (
            [{"command": "hjelp", "description": "x" * 257}],
            "Bad Request: command description length must not exceed 256",
        ),
        (
            [{"command": f"c{i}", "description": "x"} for i in range(101)],
            "Bad Request: BOT_COMMANDS_TOO_MUCH",
        ),
    ],
)
async def test_set_my_commands_validation(
    standin: BotApiStandIn,
    http: aiohttp.ClientSession,
    commands: list[dict[str, str]],
    description: str,
) -> None:
    """setMyCommands refuses invalid commands with Telegram's descriptions."""
    status, body = await call(http, standin, "setMyCommands", commands=commands)
    assert (status, body["description"]) == (400, description)
    assert standin.commands == []


async def test_commands_round_trip(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    """Commands are stored per scope and language, trimmed, and deleted again."""
    ok = [("start", "Start samtalen"), ("spor", "Still et spørsmål"), ("a" * 32, "x" * 256)]
    assert await bot.set_my_commands(ok)
    assert await bot.set_my_commands([("hjelp", "Help")], language_code="en")
    assert [c.command for c in await bot.get_my_commands()] == ["start", "spor", "a" * 32]
    assert [c.command for c in await bot.get_my_commands(language_code="en")] == ["hjelp"]
    assert standin.commands[1] == {"command": "spor", "description": "Still et spørsmål"}
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


# --------------------------------------------------------------------------- faults


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_injected_429_raises_retry_after(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    """An injected 429 gives RetryAfter once, is marked injected, and then calls succeed."""
    standin.add_user(USER)
    standin.inject("sendMessage", status=429, retry_after=3)
    with pytest.raises(RetryAfter, match=r"Retry in (3 seconds|0:00:03)"):
        await bot.send_message(USER, "Hei")
    await bot.send_message(USER, "Hei igjen")
    [error] = standin.errors
    assert (error.status, error.injected) == (429, True)
    assert error.description == "Too Many Requests: retry after 3"
    assert [e for e in standin.errors if not e.injected] == []
    assert [m.text for m in standin.sent_messages] == ["Hei igjen"]


@pytest.mark.parametrize("status", [500, 502])
async def test_injected_server_errors_raise_network_error(
    standin: BotApiStandIn, bot: telegram.Bot, status: int
) -> None:
    """Injected 500 and 502 answers surface as NetworkError, not as BadRequest."""
    standin.add_user(USER)
    standin.inject("SENDMESSAGE", status=status, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError) as caught:
            await bot.send_message(USER, "Hei")
        assert not isinstance(caught.value, BadRequest)
    await bot.send_message(USER, "Hei")
    assert [(e.status, e.injected) for e in standin.errors] == [(status, True)] * 2


async def test_injected_delay_times_out_but_message_arrives(
    standin: BotApiStandIn, bot: telegram.Bot
) -> None:
    """A slow answer times the client out although Telegram still delivers the message."""
    standin.add_user(USER)
    standin.inject("sendMessage", status=None, delay=0.4)
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "Treg", read_timeout=0.1)
    sent = await standin.wait_for_messages(1, chat_id=USER, timeout=2)
    assert sent[0].text == "Treg"
    assert standin.errors == []


async def test_wildcard_fault_and_timeout_message(
    standin: BotApiStandIn, bot: telegram.Bot
) -> None:
    """A "*" fault hits whatever comes next; wait_for explains what it saw when it gives up."""
    standin.inject("*", status=500)
    with pytest.raises(NetworkError):
        await bot.get_me()
    with pytest.raises(TimeoutError, match="last requests"):
        await standin.wait_for(lambda: standin.sent_messages, timeout=0.05)


# --------------------------------------------------------------------------- transport


@pytest.mark.parametrize("encoding", ["form", "json", "multipart", "query"])
async def test_parameters_arrive_in_every_encoding(
    standin: BotApiStandIn, http: aiohttp.ClientSession, encoding: str
) -> None:
    """Form, JSON, multipart and query-string parameters are read alike."""
    standin.add_user(USER)
    markup = {"inline_keyboard": [[{"text": "Ja", "callback_data": "ja"}]]}
    url = f"{standin.base_url}{standin.token}/sendMessage"
    fields = {"chat_id": str(USER), "text": "<b>Hei</b>", "parse_mode": "HTML"}
    if encoding == "json":
        request = http.post(url, json={**fields, "chat_id": USER, "reply_markup": markup})
    elif encoding == "multipart":
        form = aiohttp.FormData({**fields, "reply_markup": json.dumps(markup)})
        form.add_field("document", b"%PDF-1.4", filename="a.pdf", content_type="application/pdf")
        request = http.post(url, data=form)
    elif encoding == "query":
        request = http.get(url, params={**fields, "reply_markup": json.dumps(markup)})
    else:
        request = http.post(url, data={**fields, "reply_markup": json.dumps(markup)})
    async with request as response:
        body = await response.json()
    assert response.status == 200
    assert body["ok"] is True
    assert body["result"]["text"] == "Hei"
    assert body["result"]["reply_markup"] == markup
    method, params = standin.requests[-1]
    assert method == "sendMessage"
    assert params["reply_markup"] == markup
    if encoding == "multipart":
        assert params["document"] == {
            "filename": "a.pdf",
            "content_type": "application/pdf",
            "size": 8,
        }


async def test_method_names_and_unknown_methods(
    standin: BotApiStandIn, http: aiohttp.ClientSession
) -> None:
    """Method names are case-insensitive; unknown ones get 404 Not Found; bad JSON gets 400."""
    status, body = await call(http, standin, "GETME")
    assert status == 200
    assert body["result"]["username"] == standin.bot_user["username"]
    status, body = await call(http, standin, "sendSmokeSignal")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    standin.add_user(USER)
    status, body = await call(
        http, standin, "sendMessage", chat_id=USER, text="x", reply_markup="{"
    )
    assert (status, body["description"]) == (
        400,
        "Bad Request: can't parse reply keyboard markup JSON object",
    )
    status, body = await call(http, standin, "sendMessage", text="x")
    assert (status, body["description"]) == (400, "Bad Request: chat_id is empty")


async def test_ptb_encodes_everything_as_form_strings(
    standin: BotApiStandIn, bot: telegram.Bot
) -> None:
    """PTB posts url-encoded forms: numbers and booleans as JSON text, markup as JSON strings."""
    standin.add_user(USER)
    await bot.send_message(
        USER, "Hei", disable_notification=True, reply_markup=keyboard("a"), protect_content=False
    )
    _, params = standin.requests[-1]
    assert params["chat_id"] == str(USER)
    assert params["disable_notification"] == "true"
    assert params["protect_content"] == "false"
    assert params["reply_markup"] == keyboard("a").to_dict()


async def test_the_standin_never_logs_the_token(
    standin: BotApiStandIn, bot: telegram.Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """Neither the stand-in nor its HTTP server log request paths, which carry the token."""
    caplog.set_level(logging.DEBUG)
    standin.add_user(USER)
    standin.inject("sendMessage", status=500)
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "Hei")
    with pytest.raises(BadRequest):
        await bot.send_message(USER, "<b>", parse_mode="HTML")
    await bot.send_message(USER, "Hei")
    ours = [r for r in caplog.records if r.name.startswith(("bot.devtools.standin", "aiohttp"))]
    assert ours
    assert all(standin.token not in r.getMessage() for r in ours)
    assert standin.token in standin.tokens_seen


# --------------------------------------------------------------------------- long polling


async def test_get_updates_long_polls_and_honours_offset(
    standin: BotApiStandIn, http: aiohttp.ClientSession
) -> None:
    """A waiting getUpdates returns as soon as an update arrives; offset confirms updates."""
    poll = asyncio.create_task(call(http, standin, "getUpdates", timeout=5))
    await asyncio.sleep(0.1)
    assert not poll.done()
    started = time.monotonic()
    pushed = standin.push_message(USER, "Hei")
    status, body = await poll
    assert time.monotonic() - started < 1
    assert status == 200
    assert body["result"] == [pushed]

    # Not confirmed yet: delivered again.
    _, body = await call(http, standin, "getUpdates", timeout=0)
    assert [u["update_id"] for u in body["result"]] == [pushed["update_id"]]
    second = standin.push_message(USER, "Mer")
    _, body = await call(http, standin, "getUpdates", offset=pushed["update_id"] + 1, timeout=0)
    assert [u["update_id"] for u in body["result"]] == [second["update_id"]]
    _, body = await call(http, standin, "getUpdates", offset=second["update_id"] + 1, timeout=0)
    assert body["result"] == []
    _, body = await call(http, standin, "getUpdates", timeout=0)
    assert body["result"] == []  # confirmed updates are gone for good


async def test_get_updates_limit_negative_offset_and_timeout(
    standin: BotApiStandIn, http: aiohttp.ClientSession
) -> None:
    """limit caps the batch, a negative offset keeps the newest, and timeout is honoured."""
    pushed = [standin.push_message(USER, str(i)) for i in range(5)]
    _, body = await call(http, standin, "getUpdates", limit=2)
    assert [u["message"]["text"] for u in body["result"]] == ["0", "1"]
    _, body = await call(http, standin, "getUpdates", offset=-2)
    assert [u["update_id"] for u in body["result"]] == [u["update_id"] for u in pushed[-2:]]
    _, body = await call(http, standin, "getUpdates", offset=pushed[-1]["update_id"] + 1)
    started = time.monotonic()
    _, body = await call(http, standin, "getUpdates", timeout=0.3)
    assert body["result"] == []
    assert 0.25 < time.monotonic() - started < 1.5


async def test_get_updates_allowed_updates(
    standin: BotApiStandIn, http: aiohttp.ClientSession
) -> None:
    """allowed_updates filters update kinds and is remembered for later calls."""
    standin.push_message(USER, "Hei")
    standin.push_inline_query(USER, "skole")
    _, body = await call(http, standin, "getUpdates", allowed_updates=["inline_query"])
    assert [next(k for k in u if k != "update_id") for u in body["result"]] == ["inline_query"]
    standin.push_message(USER, "Igjen")
    _, body = await call(http, standin, "getUpdates")
    assert all("inline_query" in u for u in body["result"])


async def test_a_second_poller_terminates_the_first(
    standin: BotApiStandIn, http: aiohttp.ClientSession
) -> None:
    """Two simultaneous getUpdates calls end the older with Telegram's 409 Conflict."""
    first = asyncio.create_task(call(http, standin, "getUpdates", timeout=5))
    await asyncio.sleep(0.1)
    status, _ = await call(http, standin, "getUpdates", timeout=0)
    assert status == 200
    status, body = await first
    assert status == 409
    assert body["description"].startswith("Conflict: terminated by other getUpdates request")


# --------------------------------------------------------------------------- pushed updates


@pytest.mark.parametrize(
    ("push", "matches"),
    [
        (lambda s: s.push_message(USER, "Hei"), filters.TEXT & ~filters.COMMAND),
        (lambda s: s.push_command(USER, "start"), filters.COMMAND & filters.ChatType.PRIVATE),
        (
            lambda s: s.push_command(
                USER, "spor", "Når åpner biblioteket?", chat_type="supergroup"
            ),
            filters.COMMAND & filters.ChatType.SUPERGROUP,
        ),
        (lambda s: s.push_mention(USER, "hva koster SFO?"), filters.Entity("mention")),
        (lambda s: s.push_photo(USER, caption="Hull i veien"), filters.PHOTO & filters.CAPTION),
        (lambda s: s.push_sticker(USER), filters.Sticker.STATIC),
        (lambda s: s.push_voice(USER), filters.VOICE),
        (lambda s: s.push_location(USER), filters.LOCATION),
        (lambda s: s.push_document(USER), filters.Document.PDF),
        (lambda s: s.push_contact(USER, contact_user_id=USER), filters.CONTACT),
        (lambda s: s.push_channel_post("Nyhet"), filters.UpdateType.CHANNEL_POST),
        (
            lambda s: s.push_edited_message(s.push_message(USER, "Hie"), "Hei"),
            filters.UpdateType.EDITED_MESSAGE,
        ),
        (
            lambda s: s.push_message(USER, "Se https://www.lillestrom.kommune.no"),
            filters.Entity("url"),
        ),
    ],
)
async def test_pushed_updates_are_valid_for_ptb(
    standin: BotApiStandIn,
    bot: telegram.Bot,
    push: Any,
    matches: filters.BaseFilter,
) -> None:
    """Every helper builds an update PTB parses and its filters recognise."""
    raw = push(standin)
    update = Update.de_json(raw, bot)
    assert update.update_id == raw["update_id"]
    assert matches.check_update(update)


async def test_group_command_addresses_the_bot(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    """ "/spor@bot question" in a group reaches CommandHandler with the question as args."""
    raw = standin.push_command(USER, "spor", "Når er det søppeltømming?", chat_type="supergroup")
    message = raw["message"]
    assert message["text"].startswith(f"/spor@{standin.bot_user['username']} ")
    assert message["entities"][0] == {
        "offset": 0,
        "length": len(f"/spor@{standin.bot_user['username']}"),
        "type": "bot_command",
    }
    handler = CommandHandler("spor", lambda *_: None)
    update = Update.de_json(raw, bot)
    assert handler.check_update(update)
    assert update.effective_chat.id < 0
    assert update.effective_user.id == USER


async def test_update_ids_increase_and_replies_point_to_the_bot(
    standin: BotApiStandIn, bot: telegram.Bot
) -> None:
    """update_ids increase; reply_to_bot quotes the bot's newest message."""
    first = standin.push_message(USER, "Hei", language_code="en", first_name="Nora")
    sent = await bot.send_message(USER, "Hei Nora")
    reply = standin.push_message(USER, "Takk", reply_to_bot=True)
    assert reply["update_id"] == first["update_id"] + 1
    assert first["message"]["from"]["language_code"] == "en"
    quoted = reply["message"]["reply_to_message"]
    assert quoted["message_id"] == sent.message_id
    assert quoted["from"]["is_bot"] is True
    answer = await bot.send_message(
        USER,
        "Bare hyggelig",
        reply_parameters=telegram.ReplyParameters(reply["message"]["message_id"]),
    )
    assert answer.reply_to_message.text == "Takk"
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(USER, "x", reply_parameters=telegram.ReplyParameters(9999))


# --------------------------------------------------------------------------- webhooks


async def test_webhook_registration_and_delivery(
    standin: BotApiStandIn, bot: telegram.Bot, http: aiohttp.ClientSession
) -> None:
    """setWebhook checks the URL, blocks getUpdates, and deliveries carry the secret."""
    with pytest.raises(BadRequest, match=r"(?i)https url must be provided"):
        await bot.set_webhook("http://bot.example.test/hook")
    with pytest.raises(BadRequest, match=r"(?i)ports 80, 88, 443 or 8443"):
        await bot.set_webhook("https://bot.example.test:8080/hook")
    assert await bot.set_webhook(
        "https://bot.example.test/hook", secret_token="s3cret_token", allowed_updates=["message"]
    )
    info = await bot.get_webhook_info()
    assert (info.url, info.allowed_updates) == ("https://bot.example.test/hook", ("message",))
    status, body = await call(http, standin, "getUpdates")
    assert status == 409
    assert "webhook is active" in body["description"]

    received: list[tuple[str | None, dict[str, Any]]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        update = standin.push_message(USER, "Hei via webhook")
        assert await standin.post_to_webhook(f"http://127.0.0.1:{port}/hook", update) == 200
        assert await standin.post_to_webhook(f"http://127.0.0.1:{port}/nope", update) == 404
        await standin.post_to_webhook(f"http://127.0.0.1:{port}/hook", update, secret_token="")
    finally:
        await runner.cleanup()
    assert received == [("s3cret_token", update), (None, update)]
    assert (await bot.get_webhook_info()).pending_update_count == 0
    assert await bot.delete_webhook()
    assert standin.webhook == {"url": ""}


async def test_application_in_webhook_mode(standin: BotApiStandIn) -> None:
    """PTB's own webhook server registers itself and answers an update posted to it."""

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(f"Mottatt: {update.message.text}")

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = (
        ApplicationBuilder()
        .token(standin.token)
        .base_url(standin.base_url)
        .request(ptb_request())
        .get_updates_request(ptb_request())
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        await app.start()
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="telegram",
            webhook_url="https://bot.example.test/telegram",
            secret_token="hemmelig-123",
        )
        try:
            assert standin.webhook["url"] == "https://bot.example.test/telegram"
            assert standin.webhook["secret_token"] == "hemmelig-123"
            local = f"http://127.0.0.1:{port}/telegram"
            update = standin.push_message(USER, "Hei")
            assert await standin.post_to_webhook(local, update, secret_token="feil") == 403
            assert await standin.post_to_webhook(local, update) == 200
            [reply] = await standin.wait_for_messages(1, chat_id=USER)
            assert reply.text == "Mottatt: Hei"
        finally:
            await app.updater.stop()
            await app.stop()
    assert standin.errors == []


# --------------------------------------------------------------------------- PTB Application


async def test_application_answers_end_to_end(standin: BotApiStandIn) -> None:
    """A real PTB Application polls the stand-in, echoes a message and handles a button."""

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_html(
            f"Du skrev: <b>{update.message.text}</b>", reply_markup=keyboard("takk")
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer("Takk!")
        await update.callback_query.edit_message_text("Takk for tilbakemeldingen")

    app = (
        ApplicationBuilder()
        .token(standin.token)
        .base_url(standin.base_url)
        .request(ptb_request())
        .get_updates_request(ptb_request())
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            standin.push_message(USER, "Hei kommunen")
            [reply] = await standin.wait_for_messages(1, chat_id=USER)
            assert reply.text == "Du skrev: Hei kommunen"
            assert reply.entities == [{"offset": 10, "length": 12, "type": "bold"}]

            standin.push_callback(USER, reply, "takk")
            edited = await standin.wait_for_messages(2, chat_id=USER)
            assert edited[-1].method == "editMessageText"
            assert edited[-1].text == "Takk for tilbakemeldingen"
            await standin.wait_for(lambda: standin.answered_callbacks)
            assert standin.answered_callbacks[0]["text"] == "Takk!"
        finally:
            await app.updater.stop()
            await app.stop()
    assert standin.errors == []
    methods = [method for method, _ in standin.requests]
    assert methods[:2] == ["getMe", "deleteWebhook"]
    assert methods[-1] == "getUpdates"
