from bot.attachments import IMAGE_MAX_BYTES, TEXT_MAX_BYTES, classify, image_urls, inline_text
from bot.types import Attachment, AttachmentKind


def test_supported_images_are_used():
    for mime in ("image/png", "image/jpeg", "image/webp", "image/gif"):
        assert classify("x", mime, 1000) == (AttachmentKind.IMAGE, None)


def test_images_over_ten_megabytes_are_skipped_with_a_note():
    kind, note = classify("big.png", "image/png", IMAGE_MAX_BYTES + 1)
    assert kind is AttachmentKind.IMAGE and note and "10 MB" in note


def test_text_and_code_files_are_used_up_to_100_kb():
    assert classify("notes.txt", "text/plain; charset=utf-8", 10) == (AttachmentKind.TEXT, None)
    assert classify("main.py", "", 10) == (AttachmentKind.TEXT, None)
    _kind, note = classify("huge.log", "text/plain", TEXT_MAX_BYTES + 1)
    assert note and "100 KB" in note


def test_other_files_are_skipped_with_a_one_line_note():
    kind, note = classify("movie.mp4", "video/mp4", 10)
    assert kind is AttachmentKind.OTHER
    assert note == "Skipped movie.mp4: I can read images and text files only."


def test_text_files_are_inlined_under_their_names():
    item = Attachment(AttachmentKind.TEXT, "a.md", data=b"# Title")
    assert inline_text("see file", [item]) == "see file\n\n[file a.md]\n```\n# Title\n```"


def test_images_become_data_urls_when_their_bytes_are_at_hand():
    item = Attachment(AttachmentKind.IMAGE, "a.gif", "image/gif", data=b"GIF8")
    assert image_urls([item]) == ["data:image/gif;base64,R0lGOA=="]
