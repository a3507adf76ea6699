"""Downloading the files a Slack message carries, without ever sending the token off Slack."""

from __future__ import annotations

import logging
from urllib.parse import urljoin, urlparse

import aiohttp

from adapters.slack.parse import read_file
from adapters.slack.payloads import FilePayload
from bot import sentences
from bot.attachments import IMAGE_MAX_BYTES, TEXT_MAX_BYTES, classify
from bot.types import Attachment, AttachmentKind

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3
REDIRECTS = (301, 302, 303, 307, 308)


class Files:
    def __init__(self, token: str, api_url: str) -> None:
        self.token = token
        self.api_host = (urlparse(api_url).hostname or "").lower()
        self._http: aiohttp.ClientSession | None = None

    def open(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def fetch(self, files: tuple[FilePayload, ...]) -> tuple[list[Attachment], list[str]]:
        """The files worth reading, and a note for each one skipped."""
        attachments: list[Attachment] = []
        notes: list[str] = []
        for file in map(read_file, files):
            kind, skipped = classify(file.name, file.mimetype, file.size)
            if skipped:
                notes.append(skipped)
                continue
            limit = IMAGE_MAX_BYTES if kind is AttachmentKind.IMAGE else TEXT_MAX_BYTES
            data = await self._download(file.url, limit)
            if data is None:
                notes.append(sentences.DOWNLOAD_FAILED.format(name=file.name))
                continue
            attachments.append(Attachment(kind, file.name, file.mimetype, len(data), data))
        return attachments, notes

    async def _download(self, url: str, limit: int) -> bytes | None:
        if not url or self._http is None:
            return None
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            # Redirects are followed by hand: each hop must be on a Slack host, or the token stays home.
            for _ in range(MAX_REDIRECTS + 1):
                if not self.trusted(url):
                    log.warning("Slack: file URL on an unexpected host skipped")
                    return None
                async with self._http.get(url, headers=headers, allow_redirects=False) as resp:
                    if resp.status in REDIRECTS and resp.headers.get("Location"):
                        url = urljoin(url, resp.headers["Location"])
                        continue
                    if resp.status != 200 or resp.content_type == "text/html":
                        log.info("Slack: file download answered %s (%s)", resp.status, resp.content_type)
                        return None
                    data = await resp.content.read(limit + 1)
                    return data if len(data) <= limit else None
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Only the type: some aiohttp errors carry the request, Authorization header included.
            log.info("Slack: file download failed (%s)", type(exc).__name__)
            return None
        log.info("Slack: file download gave up after %d redirects", MAX_REDIRECTS)
        return None

    def trusted(self, url: str) -> bool:
        host = (urlparse(url).hostname or "").lower()
        return host == self.api_host or host.endswith((".slack.com", ".slack-gov.com")) or host in (
            "slack.com", "slack-gov.com")
