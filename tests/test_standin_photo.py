"""The stand-in's sendPhoto: multipart uploads, file_ids and URLs, refused as Telegram refuses."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
import telegram
from telegram import InputFile
from telegram.error import BadRequest

from bot.devtools.standin import BotApiStandIn

USER = 4242


def png(width: int, height: int) -> bytes:
    """Builds a real black RGB PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x00" * 3 * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
async def standin() -> AsyncIterator[BotApiStandIn]:
    """Serves a fresh stand-in with one user."""
    async with BotApiStandIn() as server:
        server.add_user(USER)
        yield server


@pytest.fixture
async def bot(standin: BotApiStandIn) -> AsyncIterator[telegram.Bot]:
    """Gives an initialised PTB Bot talking to the stand-in."""
    async with telegram.Bot(standin.token, base_url=standin.base_url) as client:
        yield client


async def test_an_uploaded_photo_is_recorded_with_its_bytes(
    standin: BotApiStandIn, bot: telegram.Bot
) -> None:
    image = png(1000, 500)
    sent = await bot.send_photo(
        USER, InputFile(image, filename="chart.png"), caption="<b>Uke</b> 23", parse_mode="HTML"
    )
    assert [(p.width, p.height) for p in sent.photo] == [
        (90, 45),
        (320, 160),
        (800, 400),
        (1000, 500),
    ]
    assert sent.caption == "Uke 23"
    assert sent.caption_entities[0].type == "bold"
    [photo] = await standin.wait_for_photos(1, chat_id=USER)
    assert photo.data == image
    assert photo.filename == "chart.png"
    assert (photo.width, photo.height, photo.caption) == (1000, 500, "Uke 23")
    assert photo.file_id == sent.photo[-1].file_id
    assert standin.sent_messages == []  # photos are kept apart from text messages

    # Sent again by its file_id: the same sizes, nothing uploaded.
    again = await bot.send_photo(USER, sent.photo[-1].file_id)
    assert [p.file_id for p in again.photo] == [p.file_id for p in sent.photo]
    assert standin.sent_photos[-1].data is None


async def test_a_photo_by_url_or_json_file_id(standin: BotApiStandIn, bot: telegram.Bot) -> None:
    by_url = await bot.send_photo(USER, "https://www.lillestrom.kommune.no/bilde.jpg")
    assert by_url.photo
    assert standin.sent_photos[-1].url == "https://www.lillestrom.kommune.no/bilde.jpg"
    url = f"{standin.base_url}{standin.token}/sendPhoto"
    body = {"chat_id": USER, "photo": by_url.photo[0].file_id, "caption": "igjen"}
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as response:
        result = await response.json()
    assert response.status == 200
    assert result["result"]["caption"] == "igjen"
    assert len(standin.sent_photos) == 2


@pytest.mark.parametrize(
    ("chat_id", "photo", "caption", "error"),
    [
        (USER, None, None, "there is no photo in the request"),
        (None, b"png", None, "chat_id is empty"),
        (USER, "AgNoSuchFile", None, "wrong file identifier/HTTP URL specified"),
        (USER, b"%PDF-1.4 not an image", None, "IMAGE_PROCESS_FAILED"),
        (USER, b"", None, "file must be non-empty"),
        (USER, png(9995, 10), None, "PHOTO_INVALID_DIMENSIONS"),
        (USER, png(420, 20), None, "PHOTO_INVALID_DIMENSIONS"),
        (USER, b"png", "x" * 1025, "message caption is too long"),
        (USER, b"png", "<b>open", "can't parse entities"),
    ],
)
async def test_send_photo_is_refused_as_telegram_refuses(
    standin: BotApiStandIn,
    chat_id: int | None,
    photo: bytes | str | None,
    caption: str | None,
    error: str,
) -> None:
    form = aiohttp.FormData()
    if chat_id is not None:
        form.add_field("chat_id", str(chat_id))
    if isinstance(photo, bytes):
        data = png(20, 10) if photo == b"png" else photo
        form.add_field("photo", data, filename="p.png", content_type="image/png")
    elif photo is not None:
        form.add_field("photo", photo)
    if caption is not None:
        form.add_field("caption", caption)
        form.add_field("parse_mode", "HTML")
    url = f"{standin.base_url}{standin.token}/sendPhoto"
    async with aiohttp.ClientSession() as http, http.post(url, data=form) as response:
        body = await response.json()
    assert response.status == 400
    assert body["description"].startswith(f"Bad Request: {error}")
    assert standin.sent_photos == []


async def test_ptb_sees_the_refusal_as_bad_request(bot: telegram.Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_photo(USER, "AgNoSuchFile")
