"""Every setting is documented: in `.env.example` with its default, and in the README's tables.

Settings classes are found by importing every module of `bot` and `adapters`, so a setting added
anywhere fails here until it is written down.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import AliasChoices, TypeAdapter
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from bot.config import EnvSettings

ROOT = Path(__file__).resolve().parent.parent


def settings_classes() -> list[type[EnvSettings]]:
    for package in ("bot", "adapters"):
        for module in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            if not module.name.endswith("__main__"):  # running, not a definition
                importlib.import_module(module.name)
    found, pending = [], list(EnvSettings.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending += cls.__subclasses__()
    return sorted(found, key=lambda cls: cls.__qualname__)


def names(field_name: str, field: FieldInfo) -> list[str]:
    """The environment variables a field reads, the preferred one first."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [str(alias)] if isinstance(alias, str) else [field_name.upper()]


SETTINGS = [(cls, name, field) for cls in settings_classes() for name, field in cls.model_fields.items()]
IDS = [f"{cls.__name__}.{name.upper()}" for cls, name, _ in SETTINGS]


def example_values() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.fullmatch(r"#? ?([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            values[match.group(1)] = match.group(2).strip().strip("\"'")
    return values


def default_of(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        return field.default_factory()  # type: ignore[call-arg]
    return None if field.default is PydanticUndefined else field.default


def test_settings_classes_are_found():
    assert {"Settings", "DiscordSettings", "SlackSettings"} <= {cls.__name__ for cls, _, _ in SETTINGS}


@pytest.mark.parametrize(("cls", "name", "field"), SETTINGS, ids=IDS)
def test_every_setting_is_in_the_env_example_with_its_default(cls: type, name: str, field: FieldInfo):
    env = names(name, field)[0]
    values = example_values()
    assert env in values, f"{env} is missing from .env.example"
    written, default = values[env], default_of(field)
    if default is None or default == [] or default == "":
        assert written == "", f"{env}: unset by default, so .env.example should leave it empty"
        return
    # Read the way the settings read it, so "10" stands for 10.0 and "true" for True.
    kind = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    adapter: TypeAdapter[Any] = TypeAdapter(kind)
    assert adapter.validate_python(written) == default, f"{env}: .env.example says {written!r}"


@pytest.mark.parametrize(("cls", "name", "field"), SETTINGS, ids=IDS)
def test_every_setting_is_in_the_readme(cls: type, name: str, field: FieldInfo):
    assert f"`{names(name, field)[0]}`" in (ROOT / "README.md").read_text()
