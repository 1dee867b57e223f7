"""Tests for bot.questionlog: real SQLite files, no mocks."""
