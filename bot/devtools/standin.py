"""A stand-in for the Telegram Bot API: a real HTTP server on 127.0.0.1 for tests.

The bot under test talks to it exactly as it talks to api.telegram.org, through PTB's
``base_url``; nothing inside PTB is patched. Tests push updates (messages, button presses,
inline queries …), let the bot poll or receive them by webhook, and then inspect what the bot
sent, what the stand-in refused and why. Validation follows Telegram's own rules and error
descriptions (tdlib's HTML parser, the Bot API's keyboard and command checks), so a message
the stand-in accepts is one Telegram would accept too.

Typical use::

    async with BotApiStandIn() as standin:
        app = ApplicationBuilder().token(standin.token).base_url(standin.base_url).build()
        ...
        standin.push_message(42, "Hei!")
        [reply] = await standin.wait_for_messages(1, chat_id=42)

Run ``python -m bot.devtools.standin --port 8081`` to serve it by hand (add ``--chat`` to
type messages as user 1 and see the bot's replies).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import functools
import itertools
import json
import logging
import re
import socket
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

__all__ = [
    "DEFAULT_TOKEN",
    "NOT_MODIFIED",
    "POLL_CONFLICT",
    "QUERY_TOO_OLD",
    "WEBHOOK_CONFLICT",
    "BotApiStandIn",
    "EntityParseError",
    "Fault",
    "RecordedError",
    "SentMessage",
    "SentPhoto",
    "parse_html",
    "utf16_len",
]

_LOGGER = logging.getLogger(__name__)

DEFAULT_TOKEN = "7000000001:AAE-StandInTokenForTestsOnly-123456"
DEFAULT_USERNAME = "lillestrom_test_bot"
DEFAULT_BOT_NAME = "Lillestrøm kommune (test)"
DEFAULT_FIRST_NAME = "Kari"
DEFAULT_GROUP_ID = -1001000000001
DEFAULT_CHANNEL_ID = -1001000000002
DEFAULT_SMALL_GROUP_ID = -4000000001

MAX_TEXT_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_INLINE_RESULTS = 50
MAX_INLINE_RESULT_ID_BYTES = 64
MAX_COMMANDS = 100
MAX_COMMAND_LENGTH = 32
MAX_COMMAND_DESCRIPTION_LENGTH = 256
MAX_CAPTION_LENGTH = 1024
MAX_PHOTO_SIDES = 10_000  # width + height
MAX_PHOTO_RATIO = 20
# The longest side of each size Telegram makes of a photo (s, m, x, y, w).
PHOTO_SIZE_LIMITS = (90, 320, 800, 1280, 2560)

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)


def _names(text: str) -> frozenset[str]:
    """Splits a block of whitespace-separated names into a set."""
    return frozenset(text.split())


# Parameters whose values Telegram reads as JSON when they arrive as strings.
_JSON_PARAMS = _names(
    """
    allowed_updates button caption_entities commands entities link_preview_options media
    menu_button message_ids reaction reply_markup reply_parameters results scope
    """
)
_JSON_PARAM_ERRORS = {
    "reply_markup": "Bad Request: can't parse reply keyboard markup JSON object",
    "results": "Bad Request: can't parse inline query results JSON object",
    "commands": "Bad Request: can't parse commands JSON object",
    "allowed_updates": "Bad Request: can't parse allowed updates JSON object",
}

# The update kinds a bot receives when it never asked for specific ones (Bot API docs).
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

_CHAT_ACTIONS = _names(
    """
    typing upload_photo record_video upload_video record_voice upload_voice upload_document
    choose_sticker find_location record_video_note upload_video_note
    """
)

_INLINE_BUTTON_ACTIONS = _names(
    """
    url callback_data web_app login_url switch_inline_query switch_inline_query_current_chat
    switch_inline_query_chosen_chat copy_text callback_game pay
    """
)

_INLINE_RESULT_TYPES = _names(
    """
    article audio contact document game gif location mpeg4_gif photo sticker venue video voice
    """
)

_COMMAND_RE = re.compile(r"[a-z0-9_]+")
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_WEBHOOK_PORTS = frozenset({80, 88, 443, 8443})
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

# Characters tdlib treats as spaces inside tags, and those Telegram trims around a text.
_TAG_SPACES = " \t\r\n\v\0"
_TRIM_CHARS = " \t\r\n\v\f"

_dumps = functools.partial(json.dumps, ensure_ascii=False)


# --------------------------------------------------------------------------- records


@dataclass
class SentMessage:
    """A message the bot sent or edited successfully, as the stand-in stored it."""

    method: str
    chat_id: int
    message_id: int
    text: str
    raw_text: str
    parse_mode: str | None
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    message: dict[str, Any]
    params: dict[str, Any]

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """Lists the inline keyboard's buttons row by row, flattened."""
        if not self.reply_markup:
            return []
        return [button for row in self.reply_markup.get("inline_keyboard", []) for button in row]

    @property
    def callback_data(self) -> list[str]:
        """Lists the callback_data of the inline keyboard's buttons in order."""
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]


@dataclass
class SentPhoto:
    """A photo the bot sent successfully: the upload's bytes, or the file_id or URL it named."""

    chat_id: int
    message_id: int
    caption: str
    caption_entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    data: bytes | None
    filename: str | None
    file_id: str
    url: str | None
    width: int
    height: int
    message: dict[str, Any]
    params: dict[str, Any]


@dataclass
class RecordedError:
    """An error answer the stand-in gave: method, parameters, status and description."""

    method: str
    params: dict[str, Any]
    status: int
    description: str
    injected: bool = False


@dataclass
class Fault:
    """A fault queued by :meth:`BotApiStandIn.inject` for the next calls of a method."""

    method: str
    status: int | None
    retry_after: int
    delay: float
    remaining: int
    description: str | None = None


@dataclass
class _OpenTag:
    """An HTML start tag waiting for its end tag."""

    tag: str
    argument: str
    utf16_offset: int
    text_index: int
    expandable: bool = False


class _Upload(dict[str, Any]):
    """Describes an uploaded file (filename, content_type, size) and keeps its bytes aside."""

    def __init__(self, data: bytes, **fields: Any) -> None:
        super().__init__(**fields)
        self.data = data


class EntityParseError(ValueError):
    """Raised when Telegram-flavoured HTML cannot be parsed; the text follows tdlib."""


class _ApiError(Exception):
    """Carries a Bot API error answer: HTTP status, description and optional parameters."""

    def __init__(
        self, description: str, status: int = 400, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.description = description
        self.status = status
        self.parameters = parameters


def _bad(message: str) -> _ApiError:
    """Builds a 400 error with Telegram's "Bad Request: " prefix."""
    return _ApiError(f"Bad Request: {message}")


def _json_param_error(key: str) -> _ApiError:
    """Builds the error for a JSON parameter that is malformed or of the wrong shape."""
    return _ApiError(_JSON_PARAM_ERRORS.get(key, f"Bad Request: can't parse {key} JSON object"))


# --------------------------------------------------------------------------- text helpers


def utf16_len(text: str) -> int:
    """Counts UTF-16 code units, the unit of Telegram's entity offsets and lengths."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    """Converts a character index into the UTF-8 byte offset tdlib reports in errors."""
    return len(text[:index].encode("utf-8", "surrogatepass"))


_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _decode_html_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decodes the character reference at ``text[pos] == "&"`` as tdlib does, or gives None."""
    n = len(text)
    end = pos + 1
    if end < n and text[end] == "#":
        end += 1
        value = 0
        if end < n and text[end] == "x":
            end += 1
            while end < n and text[end] in "0123456789abcdefABCDEF":
                value = value * 16 + int(text[end], 16)
                end += 1
        else:
            while end < n and text[end] in "0123456789":
                value = value * 10 + int(text[end])
                end += 1
        if value == 0 or value >= 0x10FFFF or end - pos >= 10 or 0xD800 <= value <= 0xDFFF:
            return None
        char = chr(value)
    else:
        while end < n and text[end].isascii() and text[end].isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(text[pos + 1 : end])
        if named is None:
            return None
        char = named
    if end < n and text[end] == ";":
        end += 1
    return char, end


_SIMPLE_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_HTML_TAGS = frozenset({*_SIMPLE_TAG_TYPES, "a", "code", "pre", "blockquote", "tg-emoji"})


# tdlib's entity type priorities: entities at the same place are ordered by them.
_ENTITY_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}


def _entity_order(entity: dict[str, Any]) -> tuple[int, int, int]:
    """Sorts entities as tdlib does: by offset, longer first, then by type priority."""
    return entity["offset"], -entity["length"], _ENTITY_PRIORITY.get(entity["type"], 50)


class _HtmlParser:
    """Walks Telegram-flavoured HTML the way tdlib's parse_html does."""

    def __init__(self, markup: str, *, strict: bool) -> None:
        self.s = markup
        self.n = len(markup)
        self.strict = strict
        self.out: list[str] = []
        self.utf16 = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[dict[str, Any]] = []

    def fail(self, message: str) -> None:
        """Raises the parse error."""
        raise EntityParseError(message)

    def offset(self, index: int) -> int:
        """Gives the UTF-8 byte offset of a character index."""
        return _byte_offset(self.s, index)

    def emit(self, char: str) -> None:
        """Appends one visible character."""
        self.out.append(char)
        self.utf16 += 2 if ord(char) > 0xFFFF else 1

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        """Parses the whole markup."""
        s, i = self.s, 0
        while i < self.n:
            c = s[i]
            if c == "&":
                decoded = _decode_html_entity(s, i)
                if decoded is not None:
                    self.emit(decoded[0])
                    i = decoded[1]
                    continue
                if self.strict:
                    self.fail(
                        f'Character "&" at byte offset {self.offset(i)} must be escaped as '
                        '"&amp;" (strict stand-in rule)'
                    )
            elif c == ">" and self.strict:
                self.fail(
                    f'Character ">" at byte offset {self.offset(i)} must be escaped as "&gt;" '
                    "(strict stand-in rule)"
                )
            if c != "<":
                self.emit(c)
                i += 1
            elif i + 1 < self.n and s[i + 1] == "/":
                i = self.end_tag(i)
            else:
                i = self.start_tag(i)
        if self.stack:
            self.fail(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].tag}"')
        self.entities.sort(key=_entity_order)
        return "".join(self.out), self.entities

    def skip_spaces(self, j: int) -> int:
        """Skips tdlib's space characters."""
        while j < self.n and self.s[j] in _TAG_SPACES:
            j += 1
        return j

    def start_tag(self, begin: int) -> int:
        """Parses a start tag at ``begin`` and returns the index after it."""
        s, n = self.s, self.n
        j = begin + 1
        while j < n and s[j] not in _TAG_SPACES and s[j] != ">":
            j += 1
        if j >= n:
            self.fail(f"Unclosed start tag at byte offset {self.offset(begin)}")
        tag = s[begin + 1 : j].lower()
        if tag not in _HTML_TAGS:
            self.fail(f'Unsupported start tag "{tag}" at byte offset {self.offset(begin)}')
        argument = ""
        expandable = False
        while True:
            j = self.skip_spaces(j)
            if j < n and s[j] == ">":
                break
            name_start = j
            while j < n and s[j] not in _TAG_SPACES and s[j] not in "=>":
                j += 1
            name = s[name_start:j]
            if not name:
                self.fail(
                    f'Empty attribute name in the tag "{tag}" at byte offset {self.offset(begin)}'
                )
            j = self.skip_spaces(j)
            if j >= n or s[j] != "=":
                if tag == "blockquote" and name.lower() == "expandable" and j < n:
                    expandable = True
                    continue
                self.fail(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag}" at byte offset {self.offset(begin)}'
                )
            j = self.skip_spaces(j + 1)
            if j >= n:
                self.fail(f'Unclosed start tag "{tag}" at byte offset {self.offset(begin)}')
            value, j = self.attribute_value(j)
            if j >= n:
                self.fail(f"Unclosed start tag at byte offset {self.offset(begin)}")
            if tag == "a" and name == "href":
                argument = value
            elif tag == "code" and name == "class" and value.startswith("language-"):
                argument = value.removeprefix("language-")
            elif tag == "span" and name == "class" and value.startswith("tg-"):
                argument = value.removeprefix("tg-")
            elif tag == "tg-emoji" and name == "emoji-id":
                argument = value
        if tag == "span" and argument != "spoiler":
            self.fail(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self.offset(begin)}'
            )
        self.stack.append(_OpenTag(tag, argument, self.utf16, len(self.out), expandable))
        return j + 1

    def attribute_value(self, j: int) -> tuple[str, int]:
        """Reads a quoted string or a bare name token starting at ``j``."""
        s, n = self.s, self.n
        if s[j] in "\"'":
            quote = s[j]
            j += 1
            chars: list[str] = []
            while j < n and s[j] != quote:
                if s[j] == "&":
                    decoded = _decode_html_entity(s, j)
                    if decoded is not None:
                        chars.append(decoded[0])
                        j = decoded[1]
                        continue
                chars.append(s[j])
                j += 1
            if j < n:
                j += 1
            return "".join(chars), j
        token_start = j
        while j < n and ((s[j].isascii() and s[j].isalnum()) or s[j] in ".-"):
            j += 1
        if j < n and s[j] not in _TAG_SPACES and s[j] != ">":
            self.fail(f"Unexpected end of name token at byte offset {self.offset(token_start)}")
        return s[token_start:j].lower(), j

    def end_tag(self, begin: int) -> int:
        """Parses an end tag at ``begin`` and returns the index after it."""
        s, n = self.s, self.n
        if not self.stack:
            self.fail(f"Unexpected end tag at byte offset {self.offset(begin)}")
        j = begin + 2
        while j < n and s[j] not in _TAG_SPACES and s[j] != ">":
            j += 1
        end_name = s[begin + 2 : j].lower()
        j = self.skip_spaces(j)
        if j >= n or s[j] != ">":
            self.fail(f"Unclosed end tag at byte offset {self.offset(begin)}")
        open_tag = self.stack.pop()
        if end_name and end_name != open_tag.tag:
            self.fail(
                f"Unmatched end tag at byte offset {self.offset(begin)}, "
                f'expected "</{open_tag.tag}>", found "</{end_name}>"'
            )
        length = self.utf16 - open_tag.utf16_offset
        if length > 0:
            self.add_entity(open_tag, length)
        return j + 1

    def add_entity(self, open_tag: _OpenTag, length: int) -> None:
        """Turns a closed tag into a Bot API MessageEntity."""
        tag, offset = open_tag.tag, open_tag.utf16_offset
        entity: dict[str, Any] = {"offset": offset, "length": length}
        if tag in _SIMPLE_TAG_TYPES:
            entity["type"] = _SIMPLE_TAG_TYPES[tag]
        elif tag == "a":
            url = open_tag.argument or "".join(self.out[open_tag.text_index :])
            user = re.fullmatch(r"tg://user\?id=(\d+)", url)
            if user:
                entity["type"] = "text_mention"
                entity["user"] = {"id": int(user[1]), "is_bot": False, "first_name": ""}
            else:
                entity["type"] = "text_link"
                entity["url"] = url
        elif tag == "code":
            entity["type"] = "code"
            parent = self.stack[-1] if self.stack else None
            if (
                open_tag.argument
                and parent
                and parent.tag == "pre"
                and parent.utf16_offset == offset
            ):
                entity["language"] = open_tag.argument
        elif tag == "pre":
            last = self.entities[-1] if self.entities else None
            if (
                last
                and last["type"] == "code"
                and (last["offset"], last["length"])
                == (
                    offset,
                    length,
                )
            ):
                last["type"] = "pre"
                return
            if last and last["type"] == "code":
                last.pop("language", None)
            entity["type"] = "pre"
        elif tag == "blockquote":
            entity["type"] = "expandable_blockquote" if open_tag.expandable else "blockquote"
        else:  # tg-emoji
            if not open_tag.argument.isdigit() or int(open_tag.argument) == 0:
                self.fail("Invalid custom emoji identifier specified")
            entity["type"] = "custom_emoji"
            entity["custom_emoji_id"] = open_tag.argument
        self.entities.append(entity)


def parse_html(markup: str, *, strict: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parses Telegram HTML into visible text and entities, raising EntityParseError.

    The rules and error texts are tdlib's. With ``strict`` (the default) a bare ``>`` or an
    ``&`` that starts no known character reference is refused too, although Telegram itself
    shows them literally: a bot that escapes correctly never sends either.
    """
    return _HtmlParser(markup, strict=strict).run()


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trims surrounding whitespace as Telegram does and shifts the entities to match."""
    left_stripped = text.lstrip(_TRIM_CHARS)
    shift = utf16_len(text[: len(text) - len(left_stripped)])
    result = left_stripped.rstrip(_TRIM_CHARS)
    total = utf16_len(result)
    trimmed = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, total)
        if end > start:
            trimmed.append({**entity, "offset": start, "length": end - start})
    return result, trimmed


_BOT_COMMAND_RE = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>@])")
_MENTION_RE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{2,32}(?!\w)")
_URL_RE = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]]")


def _detect_entities(text: str) -> list[dict[str, Any]]:
    """Finds the bot_command, mention and url entities a Telegram client would mark."""
    found: list[tuple[int, int, str]] = []
    for pattern, kind in (
        (_BOT_COMMAND_RE, "bot_command"),
        (_MENTION_RE, "mention"),
        (_URL_RE, "url"),
    ):
        for match in pattern.finditer(text):
            start, end = match.span()
            if all(end <= s or start >= e for s, e, _ in found):
                found.append((start, end, kind))
    found.sort()
    return [
        {"offset": utf16_len(text[:start]), "length": utf16_len(text[start:end]), "type": kind}
        for start, end, kind in found
    ]


# --------------------------------------------------------------------------- parameter helpers


def _int(value: Any) -> int | None:
    """Reads an integer parameter the lenient way Telegram does, or gives None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _float(value: Any) -> float | None:
    """Reads a number parameter, or gives None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value)
    return None


def _bool(value: Any) -> bool:
    """Reads a boolean parameter ("true"/"1" or JSON true)."""
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1"}
    return bool(value)


def _update_kind(update: dict[str, Any]) -> str:
    """Names an update's kind: the key that is not update_id."""
    return next(key for key in update if key != "update_id")


# --------------------------------------------------------------------------- the stand-in


class BotApiStandIn:
    """Serves the Bot API methods a PTB bot uses, validating them as Telegram does."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        username: str = DEFAULT_USERNAME,
        first_name: str = DEFAULT_BOT_NAME,
        host: str = "127.0.0.1",
        port: int = 0,
        strict_html: bool = True,
        known_chats_only: bool = True,
    ) -> None:
        if host not in _LOCAL_HOSTS:
            raise ValueError("the stand-in only listens on the loopback interface")
        self.token = token
        self.host = host
        self.port = port
        self.strict_html = strict_html
        self.known_chats_only = known_chats_only
        bot_id = _int(token.split(":", 1)[0]) or 7000000001
        self.bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": first_name,
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

        self.tokens_seen: set[str] = set()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.sent_messages: list[SentMessage] = []
        self.sent_photos: list[SentPhoto] = []
        self.errors: list[RecordedError] = []
        self.answered_callbacks: list[dict[str, Any]] = []
        self.inline_answers: list[dict[str, Any]] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.deleted_messages: list[tuple[int, int]] = []
        self.updates: list[dict[str, Any]] = []
        self.command_sets: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.webhook: dict[str, Any] = {"url": ""}
        self.faults: list[Fault] = []

        self._pending: list[dict[str, Any]] = []
        self._allowed_updates: list[str] | None = None
        self._users: dict[int, dict[str, Any]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._blocked: set[int] = set()
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._callback_queries: dict[str, dict[str, Any]] = {}
        self._inline_queries: dict[str, dict[str, Any]] = {}
        self._update_ids = itertools.count(500000001)
        self._message_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._photo_ids: dict[str, list[dict[str, Any]]] = {}  # file_id → a sent photo's sizes
        self._poll_generation = 0
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "answerInlineQuery": self._answer_inline_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "close": self._ok,
            "logOut": self._ok,
        }
        self._canonical = {name.lower(): name for name in self._handlers}

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """Gives the value for PTB's ``base_url`` (PTB appends the token)."""
        return f"http://{self._url_host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Gives the value for PTB's ``base_file_url``."""
        return f"http://{self._url_host}:{self.port}/file/bot"

    @property
    def _url_host(self) -> str:
        """Gives the host as it appears in a URL."""
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def commands(self) -> list[dict[str, str]]:
        """Gives the command list set for the default scope and all languages."""
        return self.command_sets.get((self._scope_key(None), ""), [])

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Gives the updates not yet confirmed through getUpdates' offset."""
        return list(self._pending)

    async def start(self) -> None:
        """Starts serving on the configured port, or on a free one when it is 0."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/file/bot{token}/{path:.*}", self._handle_file)
        # No access log: it would print request paths, which carry the token.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self.port = sock.getsockname()[1]
        self._runner = runner
        self._closing = False
        _LOGGER.debug("Bot API stand-in listening on %s", self.base_url)

    async def stop(self) -> None:
        """Ends waiting long polls and stops the server."""
        if self._runner is None:
            return
        self._closing = True
        self._notify()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> BotApiStandIn:
        """Starts the server."""
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stops the server."""
        await self.stop()

    # ------------------------------------------------------------------ waiting

    def _notify(self) -> None:
        """Wakes everything waiting for a change."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_until(self, predicate: Callable[[], Any], seconds: float) -> Any:
        """Waits until ``predicate()`` is truthy or the time is up; gives its last value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            value = predicate()
            remaining = deadline - loop.time()
            if value or remaining <= 0:
                return value
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:  # noqa: ASYNC109
        """Waits until ``predicate()`` is truthy and returns its value, else TimeoutError."""
        value = await self._wait_until(predicate, timeout)
        if not value:
            raise TimeoutError(f"condition not met within {timeout} s; {self._summary()}")
        return value

    async def wait_for_messages(
        self,
        count: int = 1,
        *,
        chat_id: int | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[SentMessage]:
        """Waits until at least ``count`` messages were sent or edited (in ``chat_id``)."""

        def matching() -> list[SentMessage]:
            return [m for m in self.sent_messages if chat_id is None or m.chat_id == chat_id]

        found = await self._wait_until(lambda: len(matching()) >= count, timeout)
        if not found:
            raise TimeoutError(
                f"expected {count} message(s) to chat {chat_id}, got {len(matching())} "
                f"within {timeout} s; {self._summary()}"
            )
        return matching()

    async def wait_for_photos(
        self,
        count: int = 1,
        *,
        chat_id: int | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[SentPhoto]:
        """Waits until at least ``count`` photos were sent (to ``chat_id``) and gives them."""

        def matching() -> list[SentPhoto]:
            return [p for p in self.sent_photos if chat_id is None or p.chat_id == chat_id]

        if not await self._wait_until(lambda: len(matching()) >= count, timeout):
            raise TimeoutError(
                f"expected {count} photo(s) to chat {chat_id}, got {len(matching())} "
                f"within {timeout} s; {self._summary()}"
            )
        return matching()

    def _summary(self) -> str:
        """Describes recent traffic for timeout messages."""
        methods = [method for method, _ in self.requests[-8:]]
        errors = [f"{e.method}: {e.description}" for e in self.errors[-3:]]
        return (
            f"last requests {methods}, last errors {errors}, pending updates {len(self._pending)}"
        )

    def clear_records(self) -> None:
        """Forgets recorded requests, messages, errors and answers (not chats or updates)."""
        for record in (
            self.requests,
            self.sent_messages,
            self.sent_photos,
            self.errors,
            self.answered_callbacks,
            self.inline_answers,
            self.chat_actions,
            self.deleted_messages,
        ):
            record.clear()

    # ------------------------------------------------------------------ fault injection

    def inject(
        self,
        method: str,
        *,
        status: int | None = 429,
        retry_after: int = 1,
        times: int = 1,
        delay: float = 0.0,
        description: str | None = None,
    ) -> Fault:
        """Makes the next ``times`` calls of ``method`` ("*" for any) fail or stall.

        ``status`` 429 answers "Too Many Requests" with ``retry_after``; 500 answers Telegram's
        JSON "Internal Server Error"; 502 answers nginx's HTML page, as Telegram's front does.
        ``delay`` waits before answering; with ``status=None`` the call then proceeds normally,
        which simulates a slow Telegram (the client may time out although the call succeeds).
        """
        name = method if method == "*" else self._canonical.get(method.lower(), method)
        fault = Fault(name, status, retry_after, delay, times, description)
        self.faults.append(fault)
        return fault

    def block_user(self, user_id: int) -> None:
        """Makes sending to this user's private chat fail with 403, as after a block."""
        self._blocked.add(user_id)

    def _take_fault(self, method: str) -> Fault | None:
        """Consumes the first queued fault for ``method``."""
        for fault in self.faults:
            if fault.remaining > 0 and fault.method in (method, "*"):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _fault_response(self, method: str, params: dict[str, Any], fault: Fault) -> web.Response:
        """Answers with an injected fault and records it."""
        status = fault.status or 500
        if status == HTTPStatus.BAD_GATEWAY:
            description = fault.description or "502 Bad Gateway"
            self._record_error(method, params, status, description, injected=True)
            body = (
                "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>"
                "\r\n</body>\r\n</html>\r\n"
            )
            return web.Response(status=status, text=body, content_type="text/html")
        parameters = None
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            description = fault.description or f"Too Many Requests: retry after {fault.retry_after}"
            parameters = {"retry_after": fault.retry_after}
        elif fault.description:
            description = fault.description
        elif status == HTTPStatus.FORBIDDEN:
            description = "Forbidden: bot was blocked by the user"
        elif status == HTTPStatus.CONFLICT:
            description = POLL_CONFLICT
        else:
            try:
                description = HTTPStatus(status).phrase
            except ValueError:
                description = "Unknown Error"
        error = _ApiError(description, status, parameters)
        return self._error_response(method, params, error, injected=True)

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Answers one Bot API call."""
        self.tokens_seen.add(request.match_info["token"])
        name = request.match_info["method"]
        method = self._canonical.get(name.lower(), name)
        try:
            params = await self._read_params(request)
        except _ApiError as error:
            self.requests.append((method, {}))
            return self._error_response(method, {}, error)
        self.requests.append((method, params))
        _LOGGER.debug("Bot API stand-in: %s", method)
        self._notify()

        fault = self._take_fault(method)
        if fault is not None:
            if fault.delay:
                await self._wait_until(lambda: self._closing, fault.delay)
            if fault.status is not None:
                return self._fault_response(method, params, fault)

        handler = self._handlers.get(method)
        if handler is None:
            return self._error_response(method, params, _ApiError("Not Found", 404))
        try:
            result = handler(params)
            if asyncio.iscoroutine(result):
                result = await result
        except _ApiError as error:
            if error.description == POLL_CONFLICT and _connection_closed(request):
                # The superseded long poll's client already hung up: nobody sees this answer.
                return web.Response(status=error.status)
            return self._error_response(method, params, error)
        finally:
            self._notify()
        return web.json_response({"ok": True, "result": result}, dumps=_dumps)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        """Answers file downloads: the stand-in stores no files."""
        self.tokens_seen.add(request.match_info["token"])
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        """Collects query, form, multipart or JSON parameters and decodes JSON-typed ones."""
        params: dict[str, Any] = dict(request.query)
        if request.body_exists:
            content_type = request.content_type
            if content_type == "application/json":
                try:
                    body = json.loads(await request.text())
                except ValueError as err:
                    raise _bad("can't parse JSON encoded request parameters") from err
                if not isinstance(body, dict):
                    raise _bad("can't parse JSON encoded request parameters")
                params.update(body)
            elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        data = value.file.read()
                        params[key] = _Upload(
                            data,
                            filename=value.filename,
                            content_type=value.content_type,
                            size=len(data),
                        )
                    else:
                        params[key] = value
        for key in _JSON_PARAMS & params.keys():
            if isinstance(params[key], str):
                try:
                    params[key] = json.loads(params[key])
                except ValueError as err:
                    raise _json_param_error(key) from err
        return params

    def _record_error(
        self,
        method: str,
        params: dict[str, Any],
        status: int,
        description: str,
        *,
        injected: bool = False,
    ) -> None:
        """Adds an error answer to ``errors``."""
        self.errors.append(RecordedError(method, params, status, description, injected))
        log = _LOGGER.debug if injected else _LOGGER.info
        log("Bot API stand-in answered %s with %s %s", method, status, description)

    def _error_response(
        self,
        method: str,
        params: dict[str, Any],
        error: _ApiError,
        *,
        injected: bool = False,
    ) -> web.Response:
        """Records an error and answers it in Telegram's JSON shape."""
        self._record_error(method, params, error.status, error.description, injected=injected)
        body: dict[str, Any] = {
            "ok": False,
            "error_code": error.status,
            "description": error.description,
        }
        if error.parameters:
            body["parameters"] = error.parameters
        return web.json_response(body, status=error.status, dumps=_dumps)

    # ------------------------------------------------------------------ users, chats, messages

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "nb",
    ) -> dict[str, Any]:
        """Registers (or updates) a user and their private chat with the bot."""
        user = self._users.get(user_id) or {
            "id": user_id,
            "is_bot": False,
            "first_name": DEFAULT_FIRST_NAME,
        }
        if first_name is not None:
            user["first_name"] = first_name
        if last_name is not None:
            user["last_name"] = last_name
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        self._users[user_id] = user
        chat = {"id": user_id, "first_name": user["first_name"], "type": "private"}
        for key in ("last_name", "username"):
            if key in user:
                chat[key] = user[key]
        self._chats[user_id] = chat
        return user

    def add_chat(
        self,
        chat_id: int,
        chat_type: str = "supergroup",
        *,
        title: str | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        """Registers a group, supergroup or channel the bot is a member of."""
        if chat_type == "private":
            self.add_user(chat_id, language_code=None)
            return self._chats[chat_id]
        default_title = "Lillestrøm kommune" if chat_type == "channel" else "Lillestrøm testgruppe"
        chat: dict[str, Any] = {"id": chat_id, "title": title or default_title, "type": chat_type}
        if username:
            chat["username"] = username
        self._chats[chat_id] = chat
        return chat

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """Gives the current state of a stored message."""
        return self._messages.get((chat_id, message_id))

    def _sender_and_chat(
        self,
        user_id: int,
        chat_id: int | None,
        chat_type: str,
        first_name: str | None,
        language_code: str | None,
        **user_fields: str | None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Registers the sender and resolves the chat an update comes from."""
        user = self.add_user(
            user_id, first_name=first_name, language_code=language_code, **user_fields
        )
        if chat_type == "private":
            if chat_id not in (None, user_id):
                raise ValueError("a private chat's id is the user's id")
            return user, self._chats[user_id]
        if chat_id is None:
            chat_id = DEFAULT_SMALL_GROUP_ID if chat_type == "group" else DEFAULT_GROUP_ID
        chat = self._chats.get(chat_id)
        if chat is None or chat["type"] != chat_type:
            chat = self.add_chat(chat_id, chat_type)
        return user, chat

    def _new_message(
        self, sender: dict[str, Any] | None, chat: dict[str, Any], content: dict[str, Any]
    ) -> dict[str, Any]:
        """Builds and stores a Message with the next message_id."""
        message: dict[str, Any] = {"message_id": next(self._message_ids)}
        if sender is not None:
            message["from"] = copy.deepcopy(sender)
        if chat["type"] == "channel":
            message["sender_chat"] = copy.deepcopy(chat)
        message["chat"] = copy.deepcopy(chat)
        message["date"] = int(time.time())
        message.update(content)
        self._messages[(chat["id"], message["message_id"])] = message
        return message

    def _last_bot_message(self, chat_id: int) -> dict[str, Any] | None:
        """Finds the newest message the bot sent to a chat."""
        candidates = [
            m
            for (cid, _), m in self._messages.items()
            if cid == chat_id and m.get("from", {}).get("id") == self.bot_user["id"]
        ]
        return max(candidates, key=lambda m: m["message_id"], default=None)

    def _enqueue(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queues an update for getUpdates and wakes waiting pollers."""
        update = {"update_id": next(self._update_ids), kind: payload}
        self._pending.append(update)
        self.updates.append(update)
        self._notify()
        return update

    def _file(self, prefix: str, size: int) -> dict[str, Any]:
        """Makes a realistic file_id / file_unique_id / file_size triple."""
        n = next(self._file_ids)
        return {
            "file_id": f"{prefix}ACAgQAAxkBAAIB{n:06d}StandInFileId{n:04d}AAQ",
            "file_unique_id": f"AQAD{n:04d}StIn",
            "file_size": size,
        }

    # ------------------------------------------------------------------ pushing updates

    def push_message(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str | None = None,
        language_code: str | None = "nb",
        reply_to_bot: bool = False,
        reply_to: dict[str, Any] | SentMessage | None = None,
        entities: list[dict[str, Any]] | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        """Queues a text message from a user and returns the update.

        Without ``entities`` the bot_command, mention and url entities are detected as a
        Telegram client would. ``reply_to_bot`` makes it a reply to the bot's newest message
        in that chat; ``reply_to`` replies to a given message.
        """
        content: dict[str, Any] = {"text": text}
        detected = _detect_entities(text) if entities is None else entities
        if detected:
            content["entities"] = detected
        return self._push_user_content(
            user_id,
            content,
            chat_id=chat_id,
            chat_type=chat_type,
            first_name=first_name,
            language_code=language_code,
            reply_to_bot=reply_to_bot,
            reply_to=reply_to,
            username=username,
        )

    def _push_user_content(
        self,
        user_id: int,
        content: dict[str, Any],
        *,
        chat_id: int | None,
        chat_type: str,
        first_name: str | None,
        language_code: str | None,
        reply_to_bot: bool = False,
        reply_to: dict[str, Any] | SentMessage | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        """Builds a message update from a user with the given content."""
        sender, chat = self._sender_and_chat(
            user_id, chat_id, chat_type, first_name, language_code, username=username
        )
        target = reply_to.message if isinstance(reply_to, SentMessage) else reply_to
        if reply_to_bot:
            target = self._last_bot_message(chat["id"])
            if target is None:
                raise ValueError(f"the bot has sent nothing to chat {chat['id']} to reply to")
        if target is not None:
            target = self._messages.get((chat["id"], target["message_id"]), target)
            reply = {k: v for k, v in copy.deepcopy(target).items() if k != "reply_to_message"}
            content = {"reply_to_message": reply, **content}
        return self._enqueue("message", self._new_message(sender, chat, content))

    def push_command(
        self,
        user_id: int,
        command: str,
        args: str = "",
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        address_bot: bool | None = None,
        first_name: str | None = None,
        language_code: str | None = "nb",
        reply_to: dict[str, Any] | SentMessage | None = None,
    ) -> dict[str, Any]:
        """Queues "/command[@bot] args"; in groups the command names the bot by default."""
        if address_bot is None:
            address_bot = chat_type != "private"
        head = f"/{command.lstrip('/')}"
        if address_bot:
            head += f"@{self.bot_user['username']}"
        text = f"{head} {args}" if args else head
        entities = [{"offset": 0, "length": utf16_len(head), "type": "bot_command"}]
        entities += [e for e in _detect_entities(text) if e["offset"] >= utf16_len(head)]
        return self.push_message(
            user_id,
            text,
            chat_id=chat_id,
            chat_type=chat_type,
            first_name=first_name,
            language_code=language_code,
            entities=entities,
            reply_to=reply_to,
        )

    def push_mention(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        chat_type: str = "supergroup",
        first_name: str | None = None,
        language_code: str | None = "nb",
    ) -> dict[str, Any]:
        """Queues a group message that mentions the bot (prefixing "@username" if absent)."""
        mention = f"@{self.bot_user['username']}"
        if mention.lower() not in text.lower():
            text = f"{mention} {text}"
        return self.push_message(
            user_id,
            text,
            chat_id=chat_id,
            chat_type=chat_type,
            first_name=first_name,
            language_code=language_code,
        )

    def push_raw(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queues an update exactly as given (a new update_id is set), even a malformed one."""
        update = {**update, "update_id": next(self._update_ids)}
        self._pending.append(update)
        self.updates.append(update)
        self._notify()
        return update

    def push_edited_message(
        self,
        original: dict[str, Any],
        text: str,
        *,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Queues an edit of an earlier pushed message (given as update or message)."""
        message = original.get("message") or original.get("channel_post") or original
        stored = self._messages.get((message["chat"]["id"], message["message_id"]), message)
        edited = copy.deepcopy(stored)
        edited.pop("entities", None)
        edited["text"] = text
        edited["edit_date"] = int(time.time())
        detected = _detect_entities(text) if entities is None else entities
        if detected:
            edited["entities"] = detected
        self._messages[(edited["chat"]["id"], edited["message_id"])] = edited
        kind = "edited_channel_post" if edited["chat"]["type"] == "channel" else "edited_message"
        return self._enqueue(kind, edited)

    def push_channel_post(
        self,
        text: str,
        *,
        chat_id: int = DEFAULT_CHANNEL_ID,
        title: str | None = None,
        username: str | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Queues a post in a channel where the bot is an administrator."""
        chat = self._chats.get(chat_id)
        if chat is None or chat["type"] != "channel" or title or username:
            chat = self.add_chat(chat_id, "channel", title=title, username=username)
        content: dict[str, Any] = {"text": text}
        detected = _detect_entities(text) if entities is None else entities
        if detected:
            content["entities"] = detected
        return self._enqueue("channel_post", self._new_message(None, chat, content))

    def push_photo(
        self,
        user_id: int,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str | None = None,
        language_code: str | None = "nb",
    ) -> dict[str, Any]:
        """Queues a photo (three sizes, as Telegram sends them) with an optional caption."""
        sizes = [(90, 68, 1_312), (320, 240, 17_920), (1280, 960, 143_504)]
        photo = [{**self._file("Ag", size), "width": w, "height": h} for w, h, size in sizes]
        content: dict[str, Any] = {"photo": photo}
        if caption:
            content["caption"] = caption
            detected = _detect_entities(caption)
            if detected:
                content["caption_entities"] = detected
        return self._push_user_content(
            user_id,
            content,
            chat_id=chat_id,
            chat_type=chat_type,
            first_name=first_name,
            language_code=language_code,
        )

    def push_sticker(
        self,
        user_id: int,
        *,
        emoji: str = "👍",
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str | None = None,
        language_code: str | None = "nb",
    ) -> dict[str, Any]:
        """Queues a regular (static) sticker."""
        sticker = {
            **self._file("CA", 24_576),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "set_name": "StandInStickers",
            "thumbnail": {**self._file("AA", 4_096), "width": 128, "height": 128},
        }
        return self._push_user_content(
            user_id,
            {"sticker": sticker},
            chat_id=chat_id,
            chat_type=chat_type,
            first_name=first_name,
            language_code=language_code,
        )

    def push_voice(
        self,
        user_id: int,
        *,
        duration: int = 3,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str | None = None,
        language_code: str | None = "nb",
    ) -> dict[str, Any]:
        """Queues a voice message (OGG/Opus)."""
        voice = {**self._file("Aw", 4_000 * duration), "duration": duration}
        voice["mime_type"] = "audio/ogg"
        return self._push_user_content(
            user_id,
            {"voice": voice},
            chat_id=chat_id,
            chat_type=chat_type,
            first_name=first_name,
            language_code=language_code,
        )

    def push_location(
        self,
        user_id: int,
        *,
        latitude: float = 59.955_6,
        longitude: float = 11.049_2,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str | None = None,
        language_code: str | None = "nb",
    ) -> dict[str, Any]:
        """Queues a location (by default Lillestrøm town centre)."""
        return self._push_user_content(
            user_id,
            {"location": {"latitude": latitude, "longitude": longitude}},
            chat_id=chat_id,
            chat_type=chat_type,
            first_name=first_name,
            language_code=language_code,
        )

    def push_document(
        self,
        user_id: int,
        *,
        file_name: str = "søknad.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str | None = None,
        language_code: str | None = "nb",
    ) -> dict[str, Any]:
        """Queues a document with an optional caption."""
        document = {**self._file("BQ", 81_920), "file_name": file_name, "mime_type": mime_type}
        content: dict[str, Any] = {"document": document}
        if caption:
            content["caption"] = caption
        return self._push_user_content(
            user_id,
            content,
            chat_id=chat_id,
            chat_type=chat_type,
            first_name=first_name,
            language_code=language_code,
        )

    def push_contact(
        self,
        user_id: int,
        *,
        phone_number: str = "+4791234567",
        contact_first_name: str = "Ola",
        contact_user_id: int | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str | None = None,
        language_code: str | None = "nb",
    ) -> dict[str, Any]:
        """Queues a shared contact (the sender's own when ``contact_user_id`` is their id)."""
        contact: dict[str, Any] = {"phone_number": phone_number, "first_name": contact_first_name}
        if contact_user_id is not None:
            contact["user_id"] = contact_user_id
        return self._push_user_content(
            user_id,
            {"contact": contact},
            chat_id=chat_id,
            chat_type=chat_type,
            first_name=first_name,
            language_code=language_code,
        )

    def push_callback(
        self,
        user_id: int,
        message: SentMessage | dict[str, Any],
        data: str,
        *,
        first_name: str | None = None,
        language_code: str | None = "nb",
        check_button: bool = True,
    ) -> dict[str, Any]:
        """Queues a press on a button of a message the bot sent, as a callback query.

        The query carries the message's current state. With ``check_button`` the data must
        belong to one of the message's current buttons, as it does when a person presses one.
        """
        target = message.message if isinstance(message, SentMessage) else message
        key = (target["chat"]["id"], target["message_id"])
        current = self._messages.get(key)
        if current is None:
            raise ValueError(f"no stored message {key}")
        if check_button:
            markup = current.get("reply_markup") or {}
            known = [
                b.get("callback_data") for row in markup.get("inline_keyboard", []) for b in row
            ]
            if data not in known:
                raise ValueError(f"message {key} has no button with callback_data {data!r}")
        sender = self.add_user(user_id, first_name=first_name, language_code=language_code)
        query_id = str(4_400_000_000_000_000_000 + next(self._query_ids))
        query = {
            "id": query_id,
            "from": copy.deepcopy(sender),
            "message": copy.deepcopy(current),
            "chat_instance": str(abs(key[0]) * 7_919 % 10**18 + 10**17),
            "data": data,
        }
        self._callback_queries[query_id] = query
        return self._enqueue("callback_query", query)

    def push_inline_query(
        self,
        user_id: int,
        query: str,
        *,
        offset: str = "",
        chat_type: str = "sender",
        first_name: str | None = None,
        language_code: str | None = "nb",
    ) -> dict[str, Any]:
        """Queues an inline query ("@bot query" typed in a chat)."""
        sender = self.add_user(user_id, first_name=first_name, language_code=language_code)
        query_id = str(5_500_000_000_000_000_000 + next(self._query_ids))
        inline_query = {
            "id": query_id,
            "from": copy.deepcopy(sender),
            "query": query,
            "offset": offset,
            "chat_type": chat_type,
        }
        self._inline_queries[query_id] = inline_query
        return self._enqueue("inline_query", inline_query)

    # ------------------------------------------------------------------ webhooks

    async def post_to_webhook(
        self,
        url: str,
        update: dict[str, Any],
        secret_token: str | None = None,
    ) -> int:
        """POSTs an update to a local webhook as Telegram would and returns the HTTP status.

        ``secret_token`` None sends the one registered with setWebhook (if any); "" sends none.
        The update no longer waits for getUpdates once delivered this way.
        """
        if urlsplit(url).hostname not in _LOCAL_HOSTS:
            raise ValueError("webhook deliveries are only made to the loopback interface")
        if hasattr(update, "to_dict"):
            update = update.to_dict()
        token = self.webhook.get("secret_token") if secret_token is None else secret_token
        headers = {"Content-Type": "application/json"}
        if token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, data=_dumps(update).encode(), headers=headers) as response,
        ):
            await response.read()
            status = response.status
        self._pending = [u for u in self._pending if u["update_id"] != update.get("update_id")]
        return status

    # ------------------------------------------------------------------ validation helpers

    def _resolve_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        """Finds the chat named by chat_id, as Telegram would, or raises its error."""
        raw = params.get("chat_id")
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raise _bad("chat_id is empty")
        chat: dict[str, Any] | None
        if isinstance(raw, str) and raw.strip().startswith("@"):
            name = raw.strip()[1:].lower()
            chat = next(
                (c for c in self._chats.values() if c.get("username", "").lower() == name), None
            )
        else:
            chat_id = _int(raw)
            if chat_id == 0:
                raise _bad("chat_id is empty")
            if chat_id is None:
                raise _bad("chat not found")
            chat = self._chats.get(chat_id)
            if chat is None and not self.known_chats_only:
                chat = self.add_chat(chat_id, "private" if chat_id > 0 else "supergroup")
        if chat is None:
            raise _bad("chat not found")
        if chat["id"] in self._blocked:
            raise _ApiError("Forbidden: bot was blocked by the user", 403)
        return chat

    def _render_text(
        self, raw: Any, parse_mode: Any, entities: Any
    ) -> tuple[str, list[dict[str, Any]]]:
        """Turns text + parse_mode/entities into Telegram's stored text, or raises its error."""
        if raw is None or raw == "":
            raise _bad("message text is empty")
        raw = raw if isinstance(raw, str) else str(raw)
        mode = parse_mode.strip().lower() if isinstance(parse_mode, str) else ""
        if mode == "html":
            try:
                text, found = parse_html(raw, strict=self.strict_html)
            except EntityParseError as err:
                raise _bad(f"can't parse entities: {err}") from err
        elif mode in ("", "markdown", "markdownv2"):
            # Markdown is passed through unparsed: the stand-in checks only HTML markup.
            text = raw
            found = self._check_entities(entities) if not mode else []
        else:
            raise _bad("unsupported parse_mode")
        text, found = _trim(text, found)
        if not text:
            raise _bad("message text is empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        return text, found

    @staticmethod
    def _check_entities(entities: Any) -> list[dict[str, Any]]:
        """Checks explicitly given entities for shape."""
        if entities is None:
            return []
        if not isinstance(entities, list) or not all(
            isinstance(e, dict)
            and isinstance(e.get("type"), str)
            and _int(e.get("offset")) is not None
            and _int(e.get("length")) is not None
            for e in entities
        ):
            raise _bad("can't parse entities JSON object")
        return [
            {**e, "offset": _int(e["offset"]), "length": _int(e["length"])}
            for e in entities
            if (_int(e["length"]) or 0) > 0
        ]

    def _check_reply_markup(self, markup: Any) -> dict[str, Any] | None:
        """Validates reply_markup; gives the inline keyboard a Message would carry, if any."""
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list):
                raise _bad('field "inline_keyboard" must be of type Array')
            for row in rows:
                if not isinstance(row, list):
                    raise _bad('field "inline_keyboard" must be an Array of Arrays')
                for button in row:
                    self._check_inline_button(button)
            kept = [row for row in rows if row]
            return {"inline_keyboard": kept} if kept else None
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list):
                raise _bad('field "keyboard" must be of type Array')
            for row in rows:
                if not isinstance(row, list):
                    raise _bad('field "keyboard" must be an Array of Arrays')
                for button in row:
                    text = button.get("text") if isinstance(button, dict) else button
                    if not isinstance(text, str):
                        raise _bad(
                            'can\'t parse keyboard button: Field "text" must be of type String'
                        )
                    if not text.strip():
                        raise _bad("BUTTON_TEXT_INVALID")
            return None
        if "remove_keyboard" in markup or "force_reply" in markup:
            return None
        raise _bad("can't parse reply keyboard markup JSON object")

    @staticmethod
    def _check_inline_button(button: Any) -> None:
        """Validates one inline keyboard button."""
        prefix = "can't parse inline keyboard button: "
        if not isinstance(button, dict):
            raise _bad(prefix + "InlineKeyboardButton must be an Object")
        text = button.get("text")
        if not isinstance(text, str):
            raise _bad(prefix + 'Field "text" must be of type String')
        if not _INLINE_BUTTON_ACTIONS & button.keys():
            raise _bad(prefix + "Text buttons are unallowed in the inline keyboard")
        if not text.strip():
            raise _bad("BUTTON_TEXT_INVALID")
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str):
                raise _bad(prefix + 'Field "callback_data" must be of type String')
            if not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
                raise _bad("BUTTON_DATA_INVALID")
        if "url" in button:
            url = button["url"]
            if not isinstance(url, str):
                raise _bad(prefix + 'Field "url" must be of type String')
            parts = urlsplit(url.strip())
            if (
                not url.strip()
                or any(c.isspace() for c in url.strip())
                or (parts.scheme and parts.scheme.lower() not in ("http", "https", "tg"))
            ):
                raise _bad("BUTTON_URL_INVALID")

    def _find_bot_message(self, params: dict[str, Any]) -> dict[str, Any]:
        """Finds the message an edit refers to, or raises Telegram's error."""
        chat = self._resolve_chat(params)
        message_id = _int(params.get("message_id"))
        if message_id is None:
            raise _bad("message identifier is not specified")
        message = self._messages.get((chat["id"], message_id))
        if message is None:
            raise _bad("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise _bad("message can't be edited")
        return message

    def _sender(self) -> dict[str, Any]:
        """Gives the bot as a message's ``from``."""
        keys = ("id", "is_bot", "first_name", "username")
        return {key: self.bot_user[key] for key in keys}

    def _record_sent(self, method: str, message: dict[str, Any], params: dict[str, Any]) -> None:
        """Adds a sent or edited message to ``sent_messages``."""
        self.sent_messages.append(
            SentMessage(
                method=method,
                chat_id=message["chat"]["id"],
                message_id=message["message_id"],
                text=message.get("text", ""),
                raw_text=str(params.get("text", "")),
                parse_mode=params.get("parse_mode"),
                entities=copy.deepcopy(message.get("entities", [])),
                reply_markup=copy.deepcopy(message.get("reply_markup")),
                message=copy.deepcopy(message),
                params=params,
            )
        )

    # ------------------------------------------------------------------ methods

    def _ok(self, params: dict[str, Any]) -> bool:
        """Answers close and logOut."""
        return True

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        """Answers getMe."""
        return copy.deepcopy(self.bot_user)

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Answers getUpdates with real long polling."""
        if self.webhook.get("url"):
            raise _ApiError(WEBHOOK_CONFLICT, 409)
        offset = _int(params.get("offset")) or 0
        limit = min(max(_int(params.get("limit")) or 100, 1), 100)
        timeout = max(_float(params.get("timeout")) or 0.0, 0.0)
        allowed = params.get("allowed_updates")
        if allowed is not None:
            if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
                raise _json_param_error("allowed_updates")
            self._allowed_updates = allowed
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # a poll still waiting is now superseded

        def outcome() -> list[dict[str, Any]] | bool:
            if generation != self._poll_generation:
                return True
            return self._deliverable(limit) or self._closing

        await self._wait_until(outcome, timeout)
        if generation != self._poll_generation:
            raise _ApiError(POLL_CONFLICT, 409)
        return copy.deepcopy(self._deliverable(limit))

    def _deliverable(self, limit: int) -> list[dict[str, Any]]:
        """Drops pending updates the bot did not ask for and gives up to ``limit`` others."""
        if self._allowed_updates:
            wanted = set(self._allowed_updates)
            self._pending = [u for u in self._pending if _update_kind(u) in wanted]
        else:
            self._pending = [u for u in self._pending if _update_kind(u) not in _OPT_IN_UPDATES]
        return self._pending[:limit]

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        """Answers sendMessage."""
        chat = self._resolve_chat(params)
        text, entities = self._render_text(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        inline_markup = self._check_reply_markup(params.get("reply_markup"))
        content: dict[str, Any] = {}
        reply = params.get("reply_parameters")
        reply_id = _int(reply.get("message_id")) if isinstance(reply, dict) else None
        if reply_id is not None:
            target = self._messages.get((chat["id"], reply_id))
            if target is not None:
                content["reply_to_message"] = {
                    k: v for k, v in copy.deepcopy(target).items() if k != "reply_to_message"
                }
            elif reply is None or not _bool(reply.get("allow_sending_without_reply")):
                raise _bad("message to be replied not found")
        if (thread := _int(params.get("message_thread_id"))) is not None:
            content["message_thread_id"] = thread
        content["text"] = text
        if entities:
            content["entities"] = entities
        if inline_markup:
            content["reply_markup"] = inline_markup
        message = self._new_message(self._sender(), chat, content)
        self._record_sent("sendMessage", message, params)
        return copy.deepcopy(message)

    def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        """Answers sendPhoto: a multipart upload, or the file_id or HTTP URL of a photo."""
        chat = self._resolve_chat(params)
        photo = params.get("photo")
        if isinstance(photo, str) and photo.startswith("attach://"):
            photo = params.get(photo.removeprefix("attach://"))
        data: bytes | None = None
        url: str | None = None
        if isinstance(photo, _Upload):
            data = photo.data
            if not data:
                raise _bad("file must be non-empty")
            dimensions = _image_size(data)
            if dimensions is None:
                raise _bad("IMAGE_PROCESS_FAILED")
            width, height = dimensions
            if width + height > MAX_PHOTO_SIDES or max(width, height) > MAX_PHOTO_RATIO * min(
                width, height
            ):
                raise _bad("PHOTO_INVALID_DIMENSIONS")
            sizes = self._photo_sizes(width, height, len(data))
        elif isinstance(photo, str) and photo.strip():
            known = self._photo_ids.get(photo.strip())
            if known is not None:
                sizes = copy.deepcopy(known)
            elif re.match(r"https?://", photo.strip(), re.IGNORECASE):
                url = photo.strip()  # the stand-in fetches nothing: a photo of a usual size
                sizes = self._photo_sizes(1280, 960, 143_504)
            else:
                raise _bad("wrong file identifier/HTTP URL specified")
        else:
            raise _bad("there is no photo in the request")
        content: dict[str, Any] = {"photo": sizes}
        caption, caption_entities = "", list[dict[str, Any]]()
        if params.get("caption") not in (None, ""):
            caption, caption_entities = self._render_caption(params)
        if caption:
            content["caption"] = caption
        if caption_entities:
            content["caption_entities"] = caption_entities
        inline_markup = self._check_reply_markup(params.get("reply_markup"))
        reply = params.get("reply_parameters")
        reply_id = _int(reply.get("message_id")) if isinstance(reply, dict) else None
        if reply_id is not None:
            target = self._messages.get((chat["id"], reply_id))
            if target is not None:
                content["reply_to_message"] = {
                    k: v for k, v in copy.deepcopy(target).items() if k != "reply_to_message"
                }
            elif not (isinstance(reply, dict) and _bool(reply.get("allow_sending_without_reply"))):
                raise _bad("message to be replied not found")
        if inline_markup:
            content["reply_markup"] = inline_markup
        message = self._new_message(self._sender(), chat, content)
        largest = sizes[-1]
        self.sent_photos.append(
            SentPhoto(
                chat_id=chat["id"],
                message_id=message["message_id"],
                caption=caption,
                caption_entities=copy.deepcopy(caption_entities),
                reply_markup=copy.deepcopy(inline_markup),
                data=data,
                filename=photo.get("filename") if isinstance(photo, _Upload) else None,
                file_id=largest["file_id"],
                url=url,
                width=largest["width"],
                height=largest["height"],
                message=copy.deepcopy(message),
                params=params,
            )
        )
        return copy.deepcopy(message)

    def _render_caption(self, params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        """Turns caption + parse_mode/caption_entities into the stored caption, or raises."""
        mode = params.get("parse_mode")
        mode = mode.strip().lower() if isinstance(mode, str) else ""
        raw = str(params["caption"])
        if mode == "html":
            try:
                caption, found = parse_html(raw, strict=self.strict_html)
            except EntityParseError as err:
                raise _bad(f"can't parse entities: {err}") from err
        elif mode in ("", "markdown", "markdownv2"):
            caption = raw
            found = self._check_entities(params.get("caption_entities")) if not mode else []
        else:
            raise _bad("unsupported parse_mode")
        caption, found = _trim(caption, found)
        if utf16_len(caption) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        return caption, found

    def _photo_sizes(self, width: int, height: int, size: int) -> list[dict[str, Any]]:
        """Makes the PhotoSizes Telegram keeps of a photo, smallest first, and remembers them."""
        sizes = []
        longest = max(width, height)
        for limit in PHOTO_SIZE_LIMITS:
            scale = min(1.0, limit / longest)
            w, h = max(1, round(width * scale)), max(1, round(height * scale))
            sizes.append({**self._file("Ag", max(1, round(size * scale * scale))), "width": w})
            sizes[-1]["height"] = h
            if scale == 1.0:
                break
        for entry in sizes:
            self._photo_ids[entry["file_id"]] = sizes
        return copy.deepcopy(sizes)

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        """Answers editMessageText."""
        if params.get("inline_message_id"):
            self._render_text(params.get("text"), params.get("parse_mode"), params.get("entities"))
            self._check_reply_markup(params.get("reply_markup"))
            return True
        message = self._find_bot_message(params)
        text, entities = self._render_text(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        inline_markup = self._check_reply_markup(params.get("reply_markup"))
        if (
            message.get("text") == text
            and message.get("entities", []) == entities
            and message.get("reply_markup") == inline_markup
        ):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        message["text"] = text
        message.pop("entities", None)
        message.pop("reply_markup", None)
        if entities:
            message["entities"] = entities
        if inline_markup:
            message["reply_markup"] = inline_markup
        message["edit_date"] = int(time.time())
        self._record_sent("editMessageText", message, params)
        return copy.deepcopy(message)

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        """Answers editMessageReplyMarkup."""
        if params.get("inline_message_id"):
            self._check_reply_markup(params.get("reply_markup"))
            return True
        message = self._find_bot_message(params)
        inline_markup = self._check_reply_markup(params.get("reply_markup"))
        if message.get("reply_markup") == inline_markup:
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        message.pop("reply_markup", None)
        if inline_markup:
            message["reply_markup"] = inline_markup
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    def _delete_message(self, params: dict[str, Any]) -> bool:
        """Answers deleteMessage."""
        chat = self._resolve_chat(params)
        message_id = _int(params.get("message_id"))
        if message_id is None:
            raise _bad("message identifier is not specified")
        if self._messages.pop((chat["id"], message_id), None) is None:
            raise _bad("message to delete not found")
        self.deleted_messages.append((chat["id"], message_id))
        return True

    def _send_chat_action(self, params: dict[str, Any]) -> bool:
        """Answers sendChatAction."""
        chat = self._resolve_chat(params)
        action = params.get("action")
        if not action:
            raise _bad("action is empty")
        if action not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        self.chat_actions.append((chat["id"], action))
        return True

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        """Answers answerCallbackQuery; each query can be answered once."""
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._callback_queries:
            raise _ApiError(QUERY_TOO_OLD)
        text = params.get("text")
        if isinstance(text, str) and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad("MESSAGE_TOO_LONG")
        del self._callback_queries[query_id]
        self.answered_callbacks.append(params)
        return True

    def _answer_inline_query(self, params: dict[str, Any]) -> bool:
        """Answers answerInlineQuery; each query can be answered once."""
        results = params.get("results")
        if not isinstance(results, list):
            raise _json_param_error("results")
        if len(results) > MAX_INLINE_RESULTS:
            raise _bad("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            self._check_inline_result(result, seen)
        query_id = str(params.get("inline_query_id") or "")
        if query_id not in self._inline_queries:
            raise _ApiError(QUERY_TOO_OLD)
        del self._inline_queries[query_id]
        self.inline_answers.append(params)
        return True

    def _check_inline_result(self, result: Any, seen: set[str]) -> None:
        """Validates one InlineQueryResult."""
        prefix = "can't parse inline query result: "
        if not isinstance(result, dict):
            raise _bad(prefix + "InlineQueryResult must be an Object")
        result_id = result.get("id")
        if not isinstance(result_id, str):
            raise _bad(prefix + 'Field "id" must be of type String')
        if not result_id:
            raise _bad("RESULT_ID_EMPTY")
        if len(result_id.encode("utf-8")) > MAX_INLINE_RESULT_ID_BYTES:
            raise _bad("RESULT_ID_INVALID")
        if result_id in seen:
            raise _bad("RESULT_ID_DUPLICATE")
        seen.add(result_id)
        kind = result.get("type")
        if kind not in _INLINE_RESULT_TYPES:
            raise _bad(prefix + f'Unsupported inline query result type "{kind}"')
        content = result.get("input_message_content")
        if kind == "article" and not isinstance(content, dict):
            raise _bad(prefix + 'Field "input_message_content" must be of type Object')
        if kind == "article" and not result.get("title"):
            raise _bad(prefix + 'Field "title" must be of type String')
        if isinstance(content, dict) and "message_text" in content:
            self._render_text(
                content.get("message_text"), content.get("parse_mode"), content.get("entities")
            )
        self._check_reply_markup(result.get("reply_markup"))

    @staticmethod
    def _scope_key(scope: Any) -> str:
        """Normalises a BotCommandScope into a dictionary key."""
        return json.dumps(scope or {"type": "default"}, sort_keys=True)

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        """Answers setMyCommands with tdlib's and Telegram's checks."""
        commands = params.get("commands")
        if not isinstance(commands, list) or not all(isinstance(c, dict) for c in commands):
            raise _json_param_error("commands")
        if len(commands) > MAX_COMMANDS:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        cleaned = []
        for entry in commands:
            command = str(entry.get("command", "")).strip().removeprefix("/")
            description = str(entry.get("description", "")).strip()
            if not command:
                raise _bad("command must be non-empty")
            if len(command) > MAX_COMMAND_LENGTH:
                raise _bad(f"command length must not exceed {MAX_COMMAND_LENGTH}")
            if not description:
                raise _bad("command description must be non-empty")
            if len(description) > MAX_COMMAND_DESCRIPTION_LENGTH:
                raise _bad(
                    f"command description length must not exceed {MAX_COMMAND_DESCRIPTION_LENGTH}"
                )
            if not _COMMAND_RE.fullmatch(command):
                raise _bad("BOT_COMMAND_INVALID")
            cleaned.append({"command": command, "description": description})
        key = (self._scope_key(params.get("scope")), str(params.get("language_code") or ""))
        if cleaned:
            self.command_sets[key] = cleaned
        else:
            self.command_sets.pop(key, None)
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, str]]:
        """Answers getMyCommands."""
        key = (self._scope_key(params.get("scope")), str(params.get("language_code") or ""))
        return copy.deepcopy(self.command_sets.get(key, []))

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        """Answers deleteMyCommands."""
        key = (self._scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self.command_sets.pop(key, None)
        return True

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        """Answers setWebhook with Telegram's URL, port and secret checks."""
        url = str(params.get("url") or "").strip()
        if not url:
            return self._delete_webhook(params)
        parts = urlsplit(url)
        if parts.scheme.lower() != "https":
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        try:
            port = parts.port or 443
        except ValueError as err:
            raise _bad("bad webhook: Invalid port specified") from err
        if port not in _WEBHOOK_PORTS:
            raise _bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(str(secret)):
            raise _bad("secret token contains unallowed characters")
        allowed = params.get("allowed_updates")
        if allowed is not None:
            self._allowed_updates = allowed
        if _bool(params.get("drop_pending_updates")):
            self._pending.clear()
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": allowed,
            "max_connections": _int(params.get("max_connections")) or 40,
            "ip_address": params.get("ip_address"),
        }
        self._poll_generation += 1  # a waiting long poll ends with a conflict
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        """Answers deleteWebhook."""
        if _bool(params.get("drop_pending_updates")):
            self._pending.clear()
        self.webhook = {"url": ""}
        return True

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        """Answers getWebhookInfo."""
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if info["url"]:
            info["max_connections"] = self.webhook["max_connections"]
            if self.webhook.get("ip_address"):
                info["ip_address"] = self.webhook["ip_address"]
            if self.webhook.get("allowed_updates") is not None:
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Reads a PNG's or JPEG's width and height, or gives None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if not data.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while pos + 9 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        # Start-of-frame markers hold the size (C4, C8 and CC are other tables).
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            return (width, height) if width and height else None
        pos += 2 + length
    return None


def _connection_closed(request: web.Request) -> bool:
    """Tells whether the client of a request has gone away."""
    transport = request.transport
    return transport is None or transport.is_closing()


# --------------------------------------------------------------------------- standalone use


def _more_than(standin: BotApiStandIn, count: int) -> bool:
    """Tells whether the stand-in has seen more than ``count`` messages from the bot."""
    return len(standin.sent_messages) > count


async def _print_replies(standin: BotApiStandIn) -> None:
    """Prints each message the bot sends or edits, with its buttons."""
    shown = 0
    while True:
        await standin.wait_for(functools.partial(_more_than, standin, shown), timeout=3600)
        for sent in standin.sent_messages[shown:]:
            verb = "edited" if sent.method == "editMessageText" else "bot"
            print(f"{verb}> {sent.text}")
            for button in sent.buttons:
                target = button.get("callback_data") or button.get("url") or ""
                print(f"   [{button['text']}] -> {target}")
        shown = len(standin.sent_messages)


async def _chat_loop(standin: BotApiStandIn) -> None:
    """Turns stdin lines into messages from user 1; "!press DATA" presses a button."""
    printer = asyncio.create_task(_print_replies(standin))
    try:
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                return
            line = line.rstrip("\n")
            if line.startswith("!press "):
                latest = next((m for m in reversed(standin.sent_messages) if m.buttons), None)
                if latest is None:
                    print("(no message with buttons yet)")
                    continue
                try:
                    standin.push_callback(1, latest, line.removeprefix("!press ").strip())
                except ValueError as err:
                    print(f"({err})")
            elif line.strip():
                standin.push_message(1, line)
    finally:
        printer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await printer


async def _serve(args: argparse.Namespace) -> None:
    """Serves until interrupted."""
    async with BotApiStandIn(port=args.port, known_chats_only=False) as standin:
        print(f"Bot API stand-in: base_url={standin.base_url}", flush=True)
        print(f"                  base_file_url={standin.base_file_url}", flush=True)
        print("Any token is accepted. Ctrl-C stops.", flush=True)
        if args.chat:
            print("Type a message as user 1; '!press DATA' presses a button.", flush=True)
            await _chat_loop(standin)
        else:
            await asyncio.Event().wait()


def main(argv: Iterable[str] | None = None) -> int:
    """Runs the stand-in from the command line."""
    parser = argparse.ArgumentParser(description="Serve a local Telegram Bot API stand-in.")
    parser.add_argument("--port", type=int, default=8081, help="port on 127.0.0.1 (default 8081)")
    parser.add_argument(
        "--chat", action="store_true", help="read stdin lines as messages from user 1"
    )
    args = parser.parse_args(None if argv is None else list(argv))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
