"""Settings from the environment (and an optional ``.env``), validated at start."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.core.errors import ConfigError

# The knowledge shipped beside the code, used when BOT_KNOWLEDGE_DIR is not set.
DEFAULT_KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "knowledge"

# The weekdays BOT_DIGEST_DAY accepts, Monday first, in English and Norwegian.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UKEDAGER = ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag")


class Settings(BaseSettings):
    """Every setting the bot reads, named as its environment variable."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    telegram_bot_token: SecretStr | None = None
    telegram_base_url: str | None = Field(
        default=None, description="Bot API base URL, e.g. http://localhost:8081/bot"
    )
    bot_webhook_url: str | None = None
    bot_webhook_listen: str = "0.0.0.0"
    bot_webhook_port: int = Field(default=8443, ge=1, le=65535)
    bot_webhook_secret: SecretStr | None = None
    bot_admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    bot_database: Path = Path("data/bot.sqlite3")
    bot_knowledge_dir: Path | None = None
    bot_log_secret: SecretStr | None = None
    bot_retention_days: int = Field(default=180, ge=1)
    bot_rate_limit: int = Field(default=20, ge=1, description="questions per user per minute")
    bot_flood_limit: float = Field(
        default=30.0,
        ge=0,
        description="messages per second across all chats (Telegram's limit; 0: no overall limit)",
    )
    bot_log_dir: Path | None = None
    bot_log_retention_days: int = Field(default=30, ge=1)
    bot_log_level: str = "INFO"
    bot_api_timeout: float = Field(
        default=20.0,
        gt=0,
        description="seconds to wait for a Bot API answer; a send that times out is not resent",
    )
    # Handover to a person: the staff group's chat id (the bot must be a member).
    bot_staff_chat_id: int | None = None
    bot_handover_days: int = Field(default=14, ge=1, description="days a handover case is kept")
    bot_handover_wait_days: int = Field(
        default=2, ge=1, description="working days residents are told to expect an answer in"
    )
    bot_handover_remind_days: int = Field(
        default=2, ge=1, description="open cases older than this are listed to staff daily"
    )
    bot_handover_staff_names: bool = Field(
        default=False, description="sign relayed answers with the staff member's first name"
    )
    # The admins' weekly digest (empty BOT_DIGEST_DAY: none), at local time in BOT_TIMEZONE,
    # which also decides where the chart's days begin.
    bot_digest_day: str | None = Field(default="monday", description="monday … sunday")
    bot_digest_time: dt.time = dt.time(8, 0)
    bot_timezone: str = "Europe/Oslo"

    @property
    def zone(self) -> ZoneInfo:
        """Returns the municipality's time zone (BOT_TIMEZONE)."""
        return ZoneInfo(self.bot_timezone)

    @field_validator("bot_digest_day", mode="before")
    @classmethod
    def _weekday(cls, value: object) -> object:
        if value is None:
            return None
        day = str(value).strip().lower()
        if day in ("", "off", "none", "no"):
            return None
        if day in _UKEDAGER:
            return WEEKDAYS[_UKEDAGER.index(day)]
        if day not in WEEKDAYS:
            raise ValueError("must be a weekday, e.g. monday (or empty for no digest)")
        return day

    @field_validator("bot_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be a time zone name, e.g. Europe/Oslo") from None
        return value

    @property
    def knowledge_path(self) -> Path:
        """Returns the knowledge directory: BOT_KNOWLEDGE_DIR, else the shipped knowledge/."""
        return self.bot_knowledge_dir or DEFAULT_KNOWLEDGE_DIR

    @field_validator("bot_admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            try:
                return frozenset(int(p) for p in parts)
            except ValueError:
                raise ValueError(
                    "must be comma-separated numeric Telegram user ids, e.g. 12345,67890"
                ) from None
        return value

    @field_validator("telegram_bot_token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("telegram_base_url", "bot_webhook_url", "bot_staff_chat_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


def load_settings(**overrides: Any) -> Settings:
    """Reads the settings; raises ConfigError with one clear line per bad value."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = [
            f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        ]
        raise ConfigError("invalid settings: " + "; ".join(lines)) from None
