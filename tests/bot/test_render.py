from bot.render import FENCE, balance, split_text


def fences_balanced(chunk: str) -> bool:
    return sum(1 for line in chunk.split("\n") if FENCE.match(line)) % 2 == 0


def test_short_text_is_one_message():
    assert split_text("hello", 2000) == ["hello"]


def test_every_piece_fits_the_limit():
    text = "\n".join(f"line {i} " + "x" * 50 for i in range(200))
    pieces = split_text(text, 2000)
    assert len(pieces) > 1
    assert all(len(p) <= 2000 for p in pieces)


def test_splits_fall_on_line_boundaries():
    lines = [f"line {i} " + "x" * 50 for i in range(200)]
    pieces = split_text("\n".join(lines), 2000)
    assert "\n".join(pieces).split("\n") == lines


def test_a_cut_code_block_is_closed_and_reopened_with_its_language():
    code = "\n".join(f"print({i})  # a line of code" for i in range(150))
    text = f"Here is code:\n```python\n{code}\n```\nDone."
    pieces = split_text(text, 1000)
    assert len(pieces) > 2
    assert all(fences_balanced(p) for p in pieces)
    assert all(p.startswith("```python\n") for p in pieces[1:-1])
    assert all(len(p) <= 1000 for p in pieces)


def test_removing_the_added_fences_gives_back_the_text():
    code = "\n".join(f"x = {i}" for i in range(400))
    text = f"Intro\n```js\n{code}\n```\nOutro"
    pieces = split_text(text, 500)
    lines: list[str] = []
    for index, piece in enumerate(pieces):
        part = piece.split("\n")
        if index > 0 and part[0] == "```js" and lines[-1] != "```":
            part = part[1:]
        if index < len(pieces) - 1 and part[-1] == "```" and not part[-2].startswith("```"):
            part = part[:-1]
        lines.extend(part)
    assert "\n".join(lines) == text


def test_a_line_longer_than_the_limit_is_cut_at_spaces():
    text = " ".join(["word"] * 1000)
    pieces = split_text(text, 300)
    assert all(len(p) <= 300 for p in pieces)
    assert "".join(pieces) == text


def test_balance_closes_an_open_fence():
    assert balance("a\n```py\nx = 1") == "a\n```py\nx = 1\n```"


def test_balance_leaves_closed_fences_alone():
    assert balance("```\nx\n```") == "```\nx\n```"


def test_tilde_fences_are_closed_with_tildes():
    assert balance("~~~\ncode").endswith("\n~~~")


def test_a_long_fence_info_string_is_not_repeated_in_continuations():
    text = "```python " + "x" * 1500 + "\n" + "\n".join(f"line {i}" for i in range(400)) + "\n```"
    pieces = split_text(text, 2000)
    assert all(len(p) <= 2000 for p in pieces)
    assert all(p.startswith("```python\n") for p in pieces[1:])
