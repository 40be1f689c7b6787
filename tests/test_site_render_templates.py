"""The render stage's shortcuts give the pages Jinja would give: messages looked up when a
template compiles, values escaped to text without a Markup object each (sitegen/render.py)."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2 import UndefinedError
from markupsafe import Markup, escape

from qa.i18n import catalogue
from sitegen.render import environment

HOSTILE = "<script>alert('x') & \"y\"</script>"


class Html:
    def __html__(self) -> str:
        return "<b>safe</b>"


class Text(str):
    """A str subclass (not Markup): escaped like a str."""


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_message_without_values_is_looked_up_once_when_the_template_compiles(lang: str) -> None:
    calls: list[str] = []

    def t(key: str, /, **values: Any) -> str:
        calls.append(key)
        return catalogue(lang)[key].format(**values)

    class Other:
        def t(self, key: str) -> str:
            return f"other:{key}"

    template = environment(lang).from_string(
        "{{ t('site.name') }}|{{ t('site.employee.comments_intro', count=2) }}|{{ x.t('site.name') }}"
    )
    for _ in range(2):
        html = template.render(t=t, x=Other())
    folded, called, method = html.split("|")
    assert folded == escape(catalogue(lang)["site.name"])
    assert called == escape(catalogue(lang)["site.employee.comments_intro"].format(count=2))
    assert method == "other:site.name", "a method named t is not the translator"
    assert calls == ["site.employee.comments_intro"] * 2, "only the message with values is asked for on a page"


def test_a_folded_message_is_escaped_as_at_run_time() -> None:
    # Messages with an apostrophe or an ampersand: markupsafe writes them &#39; and &amp;.
    messages = catalogue("fr")
    key = next(k for k, m in sorted(messages.items()) if "'" in m and "{" not in m)
    html = environment("fr").from_string(f"<p title=\"{{{{ t('{key}') }}}}\">{{{{ t('{key}') }}}}</p>").render()
    assert html == f'<p title="{escape(messages[key])}">{escape(messages[key])}</p>'
    assert "&#39;" in html


def test_an_unknown_message_fails_when_the_template_compiles() -> None:
    with pytest.raises(KeyError):
        environment("en").from_string("{{ t('site.no_such_message') }}")


@pytest.mark.parametrize(
    "value",
    [HOSTILE, Text(HOSTILE), Markup("<em>kept</em>"), 42, -7, True, 3.5, None, Html(), [HOSTILE], ""],
    ids=["str", "str-subclass", "markup", "int", "negative", "bool", "float", "none", "__html__", "list", "empty"],
)
def test_a_value_is_escaped_exactly_as_markupsafe_escapes_it(value: Any) -> None:
    html = environment("en").from_string("<td>{{ v }}</td><td title='{{ v }}'>{{ v }}{{ v }}</td>").render(v=value)
    text = str(escape(value))
    assert html == f"<td>{text}</td><td title='{text}'>{text}{text}</td>"


def test_a_missing_value_is_still_an_error() -> None:
    with pytest.raises(UndefinedError):
        environment("en").from_string("<p>{{ missing }}</p>").render()
    with pytest.raises(UndefinedError):
        environment("en").from_string("<p>{{ row.missing }}</p>").render(row={"label": "x"})
