# Two commands for a fresh machine with only Python: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean chat-telegram

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Runs the Telegram bot when a token is configured (environment or .env), else the console chat.
run: $(STAMP)
	@if [ -n "$$TELEGRAM_BOT_TOKEN" ] || grep -qs '^TELEGRAM_BOT_TOKEN=.' .env; then \
		exec $(BIN)/python -m bot run; \
	else \
		exec $(BIN)/python -m bot chat; \
	fi

# The real Telegram bot (`python -m bot run`) against the local Bot API stand-in: type as a
# resident, see replies and buttons as Telegram would show them. No token, no network.
chat-telegram: $(STAMP)
	$(BIN)/python -m bot.devtools.chat_telegram

lint: $(STAMP)
	$(BIN)/ruff check bot tests
	$(BIN)/ruff format --check bot tests
	$(BIN)/hadolint Dockerfile
	$(BIN)/mypy

test: lint
	$(BIN)/python -m bot check --strict
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bot bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
