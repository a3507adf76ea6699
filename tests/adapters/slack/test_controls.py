"""The blocks of Slack answers' buttons, and reading a click's value back."""

from adapters.slack import controls
from bot.types import ConversationKey

KEY = ConversationKey("slack", "T1", "C1", "1700000000.000100")


def test_a_buttons_value_reads_back_as_its_answer() -> None:
    block = controls.feedback(controls.ref(KEY, "1700000000.000200"))
    value = block["elements"][0]["negative_button"]["value"]
    assert controls.read(value, "C1") == ("down", KEY, "1700000000.000200")


def test_a_dm_answer_without_a_thread_reads_back_without_one() -> None:
    dm = ConversationKey("slack", "T1", "D1")
    value = controls.stop(controls.ref(dm, "5.5"))["elements"][0]["value"]
    assert controls.read(value, "D1") == ("stop", dm, "5.5")


def test_values_that_are_not_ours_are_ignored() -> None:
    for value in ("", "approve", "up:", "up:T1|", "vote:T1||1.0", "up:T1|x"):
        assert controls.read(value, "C1") is None


def test_a_long_posted_answer_fits_sections_and_keeps_all_its_text() -> None:
    text = "\n".join(f"line {i} " + "word " * 20 for i in range(60))
    blocks = controls.blocks(text, controls.FEEDBACK, controls.ref(KEY, "1.0"))
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(s) <= controls.SECTION_LIMIT for s in sections) and len(sections) > 1
    assert "".join(sections).replace("\n", "") == text.replace("\n", "")
    assert blocks[-1]["type"] == "context_actions"


def test_buttons_shown_before_are_removed_by_an_empty_list() -> None:
    assert controls.extra("text", controls.NONE, "T1||1.0", had=controls.STOP) == {"blocks": []}
    assert controls.extra("text", controls.NONE, "T1||1.0", had="") == {}
