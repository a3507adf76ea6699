from pathlib import Path

import pytest

from bot.config import DASHSCOPE_INTL, ConfigError, Settings, load


def test_defaults_point_at_dashscope_with_qwen_max(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QWEN_API_KEY", "sk-1")
    settings = load(Settings)
    assert settings.qwen_base_url == DASHSCOPE_INTL
    assert settings.qwen_model == "qwen-max"
    assert settings.qwen_models == ["qwen-max", "qwen-plus", "qwen-turbo"]
    assert settings.database_url == "sqlite:///qwenbot.db"
    assert settings.max_context_tokens == 8000


def test_the_dashscope_key_name_is_accepted(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-2")
    assert load(Settings).api_key == "sk-2"


def test_a_missing_key_for_dashscope_is_named():
    with pytest.raises(ConfigError, match="QWEN_API_KEY"):
        load(Settings)


def test_a_local_server_needs_no_key(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QWEN_BASE_URL", "http://localhost:11434/v1")
    monkeypatch.setenv("QWEN_MODEL", "qwen2.5:7b")
    settings = load(Settings)
    assert settings.api_key == "not-needed"
    assert settings.qwen_models == ["qwen2.5:7b"]


def test_every_malformed_setting_is_named_in_one_message(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QWEN_API_KEY", "sk-1")
    monkeypatch.setenv("MAX_CONTEXT_TOKENS", "lots")
    monkeypatch.setenv("QWEN_BASE_URL", "dashscope")
    monkeypatch.setenv("DATABASE_URL", "mysql://x")
    with pytest.raises(ConfigError) as caught:
        load(Settings)
    text = str(caught.value)
    for name in ("MAX_CONTEXT_TOKENS", "QWEN_BASE_URL", "DATABASE_URL"):
        assert name in text
    assert "Traceback" not in text


def test_models_are_a_comma_separated_list_that_includes_the_default(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QWEN_API_KEY", "sk-1")
    monkeypatch.setenv("QWEN_MODELS", "qwen-plus, qwen3-max")
    assert load(Settings).qwen_models == ["qwen-max", "qwen-plus", "qwen3-max"]


def test_settings_are_read_from_a_dot_env_file(tmp_path: Path):
    (tmp_path / ".env").write_text("QWEN_API_KEY=sk-from-file\nMAX_OUTPUT_TOKENS=100\n")
    settings = load(Settings)
    assert settings.api_key == "sk-from-file"
    assert settings.max_output_tokens == 100


def test_the_key_never_appears_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QWEN_API_KEY", "sk-very-secret")
    assert "sk-very-secret" not in repr(load(Settings))


def test_a_blank_key_counts_as_missing(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QWEN_API_KEY", "  ")
    with pytest.raises(ConfigError, match="QWEN_API_KEY"):
        load(Settings)


def test_search_options_are_a_json_object_and_anything_else_is_named(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QWEN_API_KEY", "sk-1")
    monkeypatch.setenv("QWEN_SEARCH_OPTIONS", '{"search_strategy": "agent"}')
    assert load(Settings).qwen_search_options == {"search_strategy": "agent"}
    monkeypatch.setenv("QWEN_SEARCH_OPTIONS", "agent")
    with pytest.raises(ConfigError, match="QWEN_SEARCH_OPTIONS: must be a JSON object"):
        load(Settings)


def test_web_search_is_offered_on_dashscope_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QWEN_API_KEY", "sk-1")
    assert load(Settings).on_dashscope
    monkeypatch.setenv("QWEN_BASE_URL", "http://localhost:8000/v1")
    assert not load(Settings).on_dashscope
    monkeypatch.setenv("QWEN_DASHSCOPE", "true")  # e.g. a gateway in front of Model Studio
    assert load(Settings).on_dashscope


def test_a_retention_too_long_to_date_is_refused_at_start(monkeypatch: pytest.MonkeyPatch):
    # A cutoff before year 1 cannot be turned into a usage day: every sweep would fail.
    monkeypatch.setenv("QWEN_API_KEY", "sk-1")
    monkeypatch.setenv("RETENTION_DAYS", "1000000")
    with pytest.raises(ConfigError, match=r"RETENTION_DAYS: .*36500"):
        load(Settings)
