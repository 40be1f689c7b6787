"""The render stage: Jinja2 templates (autoescaped, strict) turned into the bytes of a page."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from qa.i18n import translator

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"


class SiteEnvironment(Environment):
    """Jinja with dict keys looked up first: contexts are plain dicts, and Jinja's default
    (attribute first, then key) raises and catches an AttributeError for each `{{ row.label }}`."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


@cache
def environment() -> Environment:
    """One environment per process: templates are compiled once and cached by Jinja."""
    return SiteEnvironment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every value is escaped unless it is Markup (only chart JSON, escaped itself)
        undefined=StrictUndefined,  # a missing key is an error, never an empty string on a page
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )


@cache
def _translator(lang: str) -> Any:
    return translator(lang)


def render(template: str, context: dict[str, Any]) -> bytes:
    """The page `template` filled with `context` (its `page.lang` picks the messages), as UTF-8."""
    lang = context["page"]["lang"]
    html = environment().get_template(template).render(context, t=_translator(lang))
    return html.encode("utf-8")
