from bot.context import SUMMARY_PREFIX, build_context, fit_lines
from bot.memory import Summary, Turn
from bot.tokens import TokenCounter

counter = TokenCounter()


def turn(i: int, text: str, role: str = "user", name: str = "Ann") -> Turn:
    return Turn(role, "u1" if role == "user" else "assistant", name, text, counter.count(text), id=i)  # type: ignore[arg-type]


def test_persona_comes_first_then_summary_then_turns():
    ctx = build_context(persona="Be brief.", summary=Summary("They talked about cats.", 3),
                        turns=[turn(4, "hi"), turn(5, "hello", "assistant")], budget=1000, counter=counter)
    assert ctx.messages[0] == {"role": "system", "content": "Be brief."}
    assert ctx.messages[1] == {"role": "system", "content": SUMMARY_PREFIX + "They talked about cats."}
    assert [m["role"] for m in ctx.messages[2:]] == ["user", "assistant"]


def test_no_summary_message_when_there_is_no_summary():
    ctx = build_context(persona="P", summary=Summary(), turns=[turn(1, "hi")], budget=1000, counter=counter)
    assert [m["role"] for m in ctx.messages] == ["system", "user"]


def test_only_the_newest_turns_that_fit_the_budget_are_sent():
    turns = [turn(i, f"message number {i} " + "word " * 40) for i in range(1, 21)]
    ctx = build_context(persona="P", summary=Summary(), turns=turns, budget=300, counter=counter)
    assert 0 < ctx.included < 20
    assert ctx.left_out == 20 - ctx.included
    assert ctx.turn_ids == tuple(range(21 - ctx.included, 21))
    assert ctx.tokens <= 300


def test_the_newest_turn_is_sent_even_when_it_alone_exceeds_the_budget():
    ctx = build_context(persona="P", summary=Summary(), turns=[turn(1, "old"), turn(2, "long " * 500)],
                        budget=100, counter=counter)
    assert ctx.turn_ids == (2,)


def test_user_turns_carry_their_authors_name_in_shared_channels():
    ctx = build_context(persona="P", summary=Summary(), counter=counter, budget=1000,
                        turns=[turn(1, "hi", name="Ann"), turn(2, "yo", name="Bo"),
                               turn(3, "hey", "assistant")])
    assert [m["content"] for m in ctx.messages[1:]] == ["Ann: hi", "Bo: yo", "hey"]


def test_direct_messages_carry_no_names():
    ctx = build_context(persona="P", summary=Summary(), turns=[turn(1, "hi")], budget=1000,
                        counter=counter, shared=False)
    assert ctx.messages[1]["content"] == "hi"


def test_images_become_image_parts_of_the_newest_user_turn():
    ctx = build_context(persona="P", summary=Summary(), turns=[turn(1, "what is this?")], budget=5000,
                        counter=counter, image_urls=["data:image/png;base64,AAAA"])
    content = ctx.messages[-1]["content"]
    assert content[0] == {"type": "text", "text": "Ann: what is this?"}
    assert content[1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}


def test_a_briefing_follows_the_summary_and_precedes_the_turns():
    ctx = build_context(persona="P", summary=Summary("S", 1), turns=[turn(2, "summarise this channel")],
                        budget=1000, counter=counter, briefing="Recent messages:\nBo: ship it")
    assert [m["content"] for m in ctx.messages] == [
        "P", SUMMARY_PREFIX + "S", "Recent messages:\nBo: ship it", "Ann: summarise this channel"]


def test_a_briefing_takes_room_from_older_turns():
    turns = [turn(i, "word " * 40) for i in range(1, 11)]
    plain = build_context(persona="P", summary=Summary(), turns=turns, budget=400, counter=counter)
    briefed = build_context(persona="P", summary=Summary(), turns=turns, budget=400, counter=counter,
                            briefing="note " * 150)
    assert briefed.included < plain.included
    assert briefed.tokens <= 400


def test_fit_lines_keeps_the_newest_lines_that_fit_in_order():
    lines = [f"line {i} " + "word " * 20 for i in range(10)]
    kept, left_out = fit_lines(lines, 100, counter)
    assert kept == lines[-len(kept):] and 0 < len(kept) < 10
    assert left_out == 10 - len(kept)
    assert sum(counter.count(line) + 1 for line in kept) <= 100


def test_fit_lines_cuts_a_newest_line_too_long_to_fit_alone():
    kept, left_out = fit_lines(["old", "long " * 500], 50, counter)
    assert len(kept) == 1 and left_out == 1
    assert counter.count(kept[0]) <= 49
