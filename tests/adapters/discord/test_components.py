"""The buttons of Discord answers and their custom ids."""

from adapters.discord import components


async def test_streaming_answers_carry_stop_and_finished_ones_feedback() -> None:
    streaming = components.view("streaming", "123")
    finished = components.view("finished", "123")
    assert streaming is not None and finished is not None
    assert [item.custom_id for item in streaming.children] == ["stop:123"]  # type: ignore[attr-defined]
    assert [item.custom_id for item in finished.children] == ["fb:up:123", "fb:down:123"]  # type: ignore[attr-defined]
    assert streaming.is_finished()  # so discord.py keeps no view: clicks are read from the interaction


async def test_no_controls_or_no_question_means_no_buttons() -> None:
    assert components.view("", "123") is None
    assert components.view("finished", "") is None


def test_a_custom_id_reads_back_as_its_kind_and_question() -> None:
    assert components.read("stop:interaction-99") == ("stop", "interaction-99")
    assert components.read("fb:down:42") == ("fb:down", "42")
    for foreign in ("", "stop:", "fb:up:", "reasoning:42", "other"):
        assert components.read(foreign) is None
