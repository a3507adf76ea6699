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
