# qwenbot: `docker compose up` (with PostgreSQL, see docker-compose.yml), or alone on SQLite:
# `docker build -t qwenbot . && docker run --env-file .env -v qwenbot-data:/data qwenbot`
FROM python:3.12-slim

# The openai SDK uses the system CA store to reach DashScope over TLS.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 qwenbot \
    && mkdir /data && chown qwenbot:qwenbot /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
RUN pip install --no-cache-dir .

USER qwenbot
WORKDIR /data
ENV DATABASE_URL=sqlite:////data/qwenbot.db \
    PYTHONUNBUFFERED=1 \
    PORT=3000 \
    METRICS_PORT=9108
VOLUME ["/data"]
# Slack's HTTP mode listens on 3000; Discord and Socket Mode need no inbound port. Metrics,
# health and readiness are served on METRICS_PORT.
EXPOSE 3000 9108
# The slim image has no curl: Python asks /healthz itself (any error or non-2xx status fails).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('METRICS_PORT', '9108') + '/healthz', timeout=4)"]
ENTRYPOINT ["qwenbot"]
CMD ["run"]
