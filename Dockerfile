# Lillestrøm kommune resident bot.
# Build:  docker build -t lillestrom-bot .
# Run:    docker run -d --env-file .env -v bot-data:/data -v "$PWD/knowledge:/app/knowledge" lillestrom-bot
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BOT_DATABASE=/data/bot.sqlite3 \
    MPLCONFIGDIR=/tmp/matplotlib \
    BOT_KNOWLEDGE_DIR=/app/knowledge

WORKDIR /app

# Dependencies first, from pyproject.toml, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY bot/__init__.py bot/__init__.py
RUN pip install --no-cache-dir .

COPY bot/ bot/
COPY knowledge/ knowledge/
RUN pip install --no-cache-dir --no-deps . \
    && groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin bot \
    && mkdir -p /data \
    && chown -R bot:bot /data /app/knowledge

USER 10001:10001

# The question log (and its pseudonymisation secret) and the knowledge base live on
# volumes, so they survive upgrades and staff can edit the knowledge without a rebuild.
VOLUME ["/data", "/app/knowledge"]

# Webhook mode listens here when BOT_WEBHOOK_URL is set; polling needs no port.
EXPOSE 8443

# SIGTERM stops fetching, finishes the replies in flight (at most 5 s) and exits; what
# is left waits in the inbox (SQLite, on /data) for the next start. Docker's default
# 10 s grace is enough; give supervisors at least that (docker run --stop-timeout 10).
STOPSIGNAL SIGTERM

CMD ["python", "-m", "bot", "run"]
