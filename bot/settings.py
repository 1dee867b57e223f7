"""Settings from the environment (and an optional ``.env``), validated at start."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.core.errors import ConfigError

# The knowledge shipped beside the code, used when BOT_KNOWLEDGE_DIR is not set.
DEFAULT_KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "knowledge"


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

    @field_validator("telegram_base_url", "bot_webhook_url", mode="before")
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
