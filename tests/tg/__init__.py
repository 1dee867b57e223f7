"""Tests of the Telegram edge (bot/telegram); not named "telegram", which is PTB's package."""
