# qwenbot: `docker build -t qwenbot . && docker run --env-file .env -v qwenbot-data:/data qwenbot`
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
    PORT=3000
VOLUME ["/data"]
# Slack's HTTP mode listens here; Discord and Socket Mode need no inbound port.
EXPOSE 3000
ENTRYPOINT ["qwenbot"]
CMD ["run"]
