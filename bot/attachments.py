"""What the core does with files: images go to the vision model, text is inlined, the rest is skipped.

Adapters call `classify` before downloading anything, so a 2 GB video is never fetched.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import PurePath

from bot import sentences
from bot.types import Attachment, AttachmentKind

IMAGE_MAX_BYTES = 10 * 1024 * 1024
TEXT_MAX_BYTES = 100 * 1024
IMAGE_MIMES = {"image/png", "image/jpeg", "image/webp", "image/gif"}
TEXT_EXTENSIONS = {
    ".txt", ".md", ".rst", ".csv", ".tsv", ".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".log",
    ".xml", ".html", ".css", ".py", ".js", ".ts", ".tsx", ".jsx", ".java", ".kt", ".go", ".rs", ".c",
    ".h", ".cpp", ".hpp", ".cs", ".rb", ".php", ".swift", ".sh", ".bash", ".sql", ".lua", ".r",
    ".scala", ".dart", ".vue", ".svelte", ".env.example", ".dockerfile", ".tf",
}
TEXT_MIMES = {"application/json", "application/xml", "application/x-yaml", "application/toml",
              "application/javascript", "application/x-sh", "application/sql"}


def classify(name: str, mime: str, size: int) -> tuple[AttachmentKind, str | None]:
    """The kind of a file, and why it is skipped (None when it is used)."""
    mime = (mime or "").split(";")[0].strip().lower()
    suffix = PurePath(name.lower()).suffix
    if mime in IMAGE_MIMES or (not mime and suffix in {".png", ".jpg", ".jpeg", ".webp", ".gif"}):
        if size > IMAGE_MAX_BYTES:
            return AttachmentKind.IMAGE, sentences.IMAGE_TOO_LARGE.format(name=name)
        return AttachmentKind.IMAGE, None
    if mime.startswith("text/") or mime in TEXT_MIMES or suffix in TEXT_EXTENSIONS:
        if size > TEXT_MAX_BYTES:
            return AttachmentKind.TEXT, sentences.TEXT_TOO_LARGE.format(name=name)
        return AttachmentKind.TEXT, None
    return AttachmentKind.OTHER, sentences.UNREADABLE_KIND.format(name=name)


def inline_text(text: str, attachments: Sequence[Attachment]) -> str:
    """The message text with each text file appended as a fenced block under its name."""
    blocks = [text] if text else []
    for item in attachments:
        if item.kind is AttachmentKind.TEXT and item.data is not None:
            body = item.data.decode("utf-8", errors="replace")
            blocks.append(f"[file {item.name}]\n```\n{body}\n```")
        elif item.kind is AttachmentKind.IMAGE:
            blocks.append(f"[image {item.name}]")
    return "\n\n".join(blocks)


def image_urls(attachments: Sequence[Attachment]) -> list[str]:
    """Images as URLs a vision model accepts: base64 data URLs when the bytes are at hand."""
    urls = []
    for item in attachments:
        if item.kind is not AttachmentKind.IMAGE:
            continue
        if item.data is not None:
            mime = item.mime or "image/png"
            urls.append(f"data:{mime};base64,{base64.b64encode(item.data).decode()}")
        elif item.url:
            urls.append(item.url)
    return urls
