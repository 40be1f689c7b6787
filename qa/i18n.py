"""One message catalogue for the app and the coaching site: French by default, English complete."""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"


@cache
def catalogue(lang: str) -> dict[str, str]:
    """All messages of one language, keyed by dotted id (e.g. `form.submit`).

    A language is a folder of YAML files (one per area: common, app, site...), merged; a key
    defined in two files is an error, so areas cannot silently override each other.
    """
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r} (expected one of {LANGUAGES})")
    merged: dict[str, str] = {}
    for path in sorted((LOCALE_DIR / lang).glob("*.yaml")):
        with path.open(encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=yaml.CSafeLoader) or {}
        for key, message in _flatten(data):
            if key in merged:
                raise ValueError(f"{path}: message {key!r} is already defined in another file")
            merged[key] = message
    return merged


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += _flatten(value, name + ".")
        else:
            out.append((name, str(value)))
    return out


# The catalogues loaded so far, read directly by `t` (a site build asks for ~100,000 messages).
_LOADED: dict[str, dict[str, str]] = {}


def t(key: str, lang: str = DEFAULT_LANGUAGE, /, **values: Any) -> str:
    """The message `key` in `lang`, with `{placeholders}` filled; a missing key is a KeyError."""
    messages = _LOADED.get(lang)
    if messages is None:
        messages = _LOADED[lang] = catalogue(lang)
    message = messages[key]
    return message.format(**values) if values else message


def placeholders(message: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


def translator(lang: str):
    """A one-argument-plus-values `t` bound to a language, for templates and pages."""

    messages = catalogue(lang)

    def bound(key: str, /, **values: Any) -> str:
        message = messages[key]
        return message.format(**values) if values else message

    return bound
