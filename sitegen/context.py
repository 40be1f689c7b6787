"""Pure functions from an employee's analysed evaluations to what their page shows, in one language.

The result is a plain dict of display-ready strings and chart dicts: templates only lay it out
(no arithmetic, sorting or wording in Jinja). Free text is redacted here, escaped by Jinja.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup, escape

from qa.i18n import t
from qa.models import Employee
from qa.scorecard_model import BEHAVIOURS
from sitegen import charts, wording
from sitegen.analysis import CriterionStat, EmployeeAnalysis
from sitegen.cards import CardBook
from sitegen.frame import Analysed, Columns
from sitegen.load import Shown
from sitegen.privacy import Redactor

# Comments and debriefs of this many most recent evaluations are shown (the table lists them all).
COMMENTS_SHOWN = 12


@dataclass(frozen=True)
class PageInfo:
    """Where a page sits: relative prefix to the site root, and its other-language twin."""

    lang: str
    root: str  # e.g. "../../" from p/<token>/index.html
    alternate_href: str  # the same page in the other language, relative
    alternate_lang: str


def page_frame(info: PageInfo, title: str, *, charts_used: bool) -> dict[str, Any]:
    """What base.html needs: language, title, links to assets and to the other language."""
    return {
        "lang": info.lang,
        "title": title,
        "root": info.root,
        "charts": charts_used,
        "alternate": {
            "href": info.alternate_href,
            "lang": info.alternate_lang,
            "label": t("site.switch_to", info.lang),
        },
    }


def criterion_texts(stat: CriterionStat, cards: CardBook, lang: str) -> dict[str, str]:
    """Label, behaviour and coaching tip of a criterion in the page's language, at its newest wording."""
    return dict(_criterion_texts(cards, stat.card_id, stat.criterion_id, stat.versions, lang))


# The same few dozen criteria are on every page: their texts are looked up once per wording.
@lru_cache(maxsize=8192)
def _criterion_texts(
    cards: CardBook, card_id: str, criterion_id: str, versions: tuple[str, ...], lang: str
) -> tuple[tuple[str, str], ...]:
    return tuple(_find_criterion_texts(cards, card_id, criterion_id, versions, lang).items())


def _find_criterion_texts(
    cards: CardBook, card_id: str, criterion_id: str, versions: tuple[str, ...], lang: str
) -> dict[str, str]:
    criterion = cards.latest_criterion(card_id, criterion_id, list(versions))
    card = cards.card(card_id, versions[-1] if versions else None)
    behaviour = ""
    if card is not None:
        try:
            section = card.section_of(criterion_id)
            behaviour = t(f"behaviour.{section.behaviour}", lang) if section.behaviour else section.label.get(lang)
        except KeyError:
            behaviour = ""
    if criterion is None:
        return {"label": criterion_id, "behaviour": behaviour, "tip": ""}
    return {"label": criterion.label.get(lang), "behaviour": behaviour, "tip": criterion.coaching.get(lang)}


def headline_context(analysis: EmployeeAnalysis, cards: CardBook, lang: str) -> dict[str, Any]:
    headline = analysis.headline
    interval = headline.interval
    out: dict[str, Any] = {
        "n": analysis.n,
        "conclusive": headline.conclusive,
        "value": None,
        "interval": None,
        "band": None,
        "message": None,
        "needed": None,
    }
    out["based_on"] = t("site.employee.based_on", lang, n=analysis.n)
    if analysis.n == 0:
        out["message"] = t("site.employee.no_evaluations", lang)
        return out
    if headline.conclusive and interval.mean is not None and interval.low is not None and interval.high is not None:
        out["value"] = t("site.employee.score_value", lang, mean=wording.number(interval.mean, lang))
        out["interval"] = t(
            "site.employee.interval",
            lang,
            low=wording.number(interval.low, lang),
            high=wording.number(interval.high, lang),
        )
        if analysis.band is not None:
            out["band"] = t("site.employee.band", lang, band=cards.band_label(*analysis.band, lang))
        return out
    out["message"] = t("stats.not_enough", lang)
    if headline.needed_n is not None and headline.needed_n > analysis.n:
        out["needed"] = t("site.employee.needed", lang, needed=headline.needed_n, n=analysis.n)
    return out


def behaviours_context(analysis: EmployeeAnalysis, lang: str) -> dict[str, Any]:
    names, means, lows, highs, rows = [], [], [], [], []
    for behaviour in BEHAVIOURS:
        interval = analysis.behaviours[behaviour]
        name = t(f"behaviour.{behaviour}", lang)
        rows.append(
            {
                "label": name,
                "mean": wording.mean_or_not_enough(interval, lang),
                "interval": wording.interval_range(interval, lang)
                if wording.usable(interval)
                else wording.t_none(lang),
                "n": interval.n,
            }
        )
        names.append(name)
        shown = wording.usable(interval)
        means.append(interval.mean if shown else None)
        lows.append(interval.low if shown else None)
        highs.append(interval.high if shown else None)
    figure = None
    if any(m is not None for m in means):
        figure = charts.embed(charts.interval_bars(names, means, lows, highs, t("site.column.mean", lang)))
    return {"rows": rows, "chart": figure}


def trend_context(analysis: EmployeeAnalysis, lang: str) -> dict[str, Any]:
    labels, means, lows, highs, rows = [], [], [], [], []
    for code, interval in analysis.periods:
        label = wording.period(code, lang)
        rows.append(
            {
                "label": label,
                "mean": wording.mean_or_not_enough(interval, lang),
                "interval": wording.interval_range(interval, lang)
                if wording.usable(interval)
                else wording.t_none(lang),
                "n": interval.n,
            }
        )
        labels.append(label)
        means.append(interval.mean if wording.usable(interval) else None)
        lows.append(interval.low if wording.usable(interval) else None)
        highs.append(interval.high if wording.usable(interval) else None)
    figure = None
    if sum(m is not None for m in means) >= 2:
        figure = charts.embed(charts.trend_line(labels, means, lows, highs, t("site.column.mean", lang)))
    return {"rows": rows, "chart": figure}


def criteria_context(
    stats: Sequence[CriterionStat], cards: CardBook, lang: str, *, focus: bool
) -> list[dict[str, Any]]:
    out = []
    for stat in stats:
        item: dict[str, Any] = {**criterion_texts(stat, cards, lang), "rate": wording.pass_rate(stat.rate, lang)}
        if focus:
            item["impact"] = t("site.employee.focus_impact", lang, points=wording.number(stat.impact, lang))
            item["critical"] = (
                t("site.employee.critical_note", lang, count=stat.critical_failures) if stat.critical_failures else None
            )
        out.append(item)
    return out


def channel_label(channel: str, lang: str) -> str:
    return t(f"channel.{channel}", lang)


def _scenario_label(cards: CardBook, card_id: str, version: str, scenario: Any, lang: str) -> str:
    if not isinstance(scenario, str):
        return t("site.none", lang)
    found = cards.choice_label(card_id, version, "scenario", scenario, lang)
    return found or t("site.none", lang)  # an unknown id is not shown raw: it could be anything


def table_rows(columns: Columns, cards: CardBook, langs: Sequence[str]) -> dict[str, np.ndarray]:
    """Each row of `columns` as a row of the evaluations table (date, channel, scenario, score,
    band, critical failures), ready HTML in each language: an object array of strings per language.

    A page may list a hundred evaluations: a Jinja loop escaping six cells a row was the largest
    cost of a build (a million escapes for a thousand people). Here each distinct combination of
    labels, each distinct score and each distinct list of failed criteria is worded and escaped
    once for all the rows of a job, and the cells are joined column-wise by numpy. Dates and scores
    are our own formatted numbers (digits, '-', '.', ','), which escaping leaves unchanged.
    `employee_rows` cuts one employee's rows out, most recent first.
    """
    texts = columns.texts
    if not len(columns.overall):
        return {lang: np.empty(0, dtype=object) for lang in langs}
    card, version = texts["scorecard_id"], texts["scorecard_version"]
    label_codes, label_keys = _factorize(card, version, texts["channel"], texts["band"], texts["scenario"])
    failure_codes, failure_keys = _factorize(card, version, texts["critical_failures"])
    scores, score_codes = np.unique(columns.overall, return_inverse=True)  # NaN (no score) last, once
    out = {}
    for lang in langs:
        none = escape(t("site.none", lang))
        cells = [_label_cells(cards, key, lang, none) for key in label_keys]
        middle = _cells([c[0] for c in cells])[label_codes]
        band = _cells([c[1] for c in cells])[label_codes]
        failures = _cells([_failures_cell(cards, key, lang) for key in failure_keys])[failure_codes]
        score = _cells([none if v != v else wording.number(v, lang) for v in scores.tolist()])[score_codes]
        # The day is YYYY-MM-DD (checked by sitegen.frame.columns_of).
        out[lang] = '<tr><th scope="row">' + texts["day"] + middle + score + band + failures + "</td></tr>\n"
    return out


def employee_rows(table: Mapping[str, np.ndarray], columns: Columns, employee_id: str) -> dict[str, Markup]:
    """One employee's rows of `table_rows`, most recent first, in each language."""
    start, stop = columns.spans[employee_id]
    # every label is escaped by table_rows; dates and scores are digits
    return {lang: Markup("".join(rows[start:stop][::-1].tolist())) for lang, rows in table.items()}  # noqa: S704


def _array(items: list[Any]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _cells(items: list[str]) -> np.ndarray:
    """Escaped cells as plain strings: adding a str to a Markup would escape the str again."""
    return _array([str(item) for item in items])


def _factorize(*arrays: np.ndarray) -> tuple[np.ndarray, list[tuple[Any, ...]]]:
    """A code per row for each distinct tuple of values across `arrays`, and the tuples."""
    codes, uniques = pd.factorize(_array(list(zip(*arrays, strict=True))))
    return codes, list(uniques)


def _failures_cell(cards: CardBook, key: tuple[str, str, str | None], lang: str) -> str:
    """The failed critical criteria of a row (ids joined by ","), as their labels, escaped."""
    card_id, version, failed = key
    if not failed:
        return escape(t("site.employee.critical_none", lang))
    return escape("; ".join(_criterion_label(cards, card_id, version, c, lang) for c in failed.split(",")))


_EMPTY: Mapping[str, Any] = {}


def _label_cells(cards: CardBook, key: tuple[Any, ...], lang: str, none: str) -> tuple[str, str]:
    """The channel and scenario cells, and the band cell, of a row (escaped), around its score."""
    card_id, version, channel, band, scenario = key
    channel_text = escape(channel_label(channel, lang))
    scenario_text = escape(_scenario_label(cards, card_id, version, scenario, lang))
    band_text = escape(cards.band_label(card_id, band, lang)) if band else none
    return f"</th><td>{channel_text}</td><td>{scenario_text}</td><td>", f"</td><td>{band_text}</td><td>"


def _criterion_label(cards: CardBook, card_id: str, version: str, criterion_id: str, lang: str) -> str:
    criterion = cards.criterion(card_id, version, criterion_id)
    return criterion.label.get(lang) if criterion else criterion_id


# One shown evaluation's free text, redacted and escaped: (evaluation, comments, debrief answers),
# each a list of (criterion or question id, text).
Redacted = tuple[Shown, list[tuple[str, Markup]], list[tuple[str, Markup]]]


def redacted_texts(
    employee: Employee, shown: Sequence[Shown], redactor: Redactor, references: Mapping[str, str]
) -> list[Redacted]:
    """The shown evaluations' comments and debrief answers, redacted and HTML-escaped.

    Done once per employee, not once per language: the text is the evaluator's, the same on both
    pages (escaping it here makes Jinja's autoescape a no-op on it).
    """
    keep = (employee.display_name,)
    out: list[Redacted] = []
    for evaluation in shown:
        interaction = evaluation.interaction_id
        refs = (references[interaction],) if interaction is not None and interaction in references else ()
        comments = [
            (key, _escaped(redactor.clean(str(text), refs, keep=keep)))
            for key, text in evaluation.comments.items()
            if str(text).strip()
        ]
        debrief = [
            (key, _escaped(redactor.clean(str(answer), refs, keep=keep)))
            for key, answer in evaluation.debrief.items()
            if answer is not None and str(answer).strip()
        ]
        out.append((evaluation, comments, debrief))
    return out


# Escaped texts by their redacted text: the redactor hands back the same string object for the
# same phrase, and evaluators reuse phrases across many pages. Bounded: the app lives long.
_ESCAPED: dict[str, Markup] = {}


def _escaped(text: str) -> Markup:
    found = _ESCAPED.get(text)
    if found is None:
        if len(_ESCAPED) >= 100_000:
            _ESCAPED.clear()
        found = _ESCAPED[text] = escape(text)
    return found


def comment_blocks(redacted: Sequence[Redacted], cards: CardBook, lang: str) -> Markup:
    """The most recent evaluations' comments and debrief answers, verbatim but redacted, as ready
    HTML (empty when there is none): a Jinja loop over these few hundred cells a page cost more than
    the rest of the page. Texts come escaped from `redacted_texts`; labels are escaped here."""
    debrief_title = _debrief_title(lang)
    html: list[str] = []
    for evaluation, texts, answers in redacted:
        if not texts and not answers:
            continue
        card_id, version = evaluation.scorecard_id, evaluation.scorecard_version
        html.append(_heading(cards, card_id, version, evaluation.day, evaluation.channel, lang))
        if texts:
            html.append("<dl>\n")
            html.extend([f"<dt>{_comment_label(cards, card_id, version, key, lang)}</dt><dd><q>{text}</q></dd>\n"
                         for key, text in texts])  # fmt: skip
            html.append("</dl>\n")
        if answers:
            html.append(debrief_title)
            html.extend([f"<dt>{_question_label(cards, card_id, version, key, lang)}</dt><dd><q>{text}</q></dd>\n"
                         for key, text in answers])  # fmt: skip
            html.append("</dl>\n")
        html.append("</article>\n")
    return Markup("".join(html))  # noqa: S704 - texts are escaped by redacted_texts, labels above


@lru_cache(maxsize=4)
def _debrief_title(lang: str) -> str:
    return f"<h4>{escape(t('site.employee.debrief', lang))}</h4>\n<dl>\n"


# A block's opening and heading: the same scorecard, day and channel recur across many pages.
@lru_cache(maxsize=16384)
def _heading(cards: CardBook, card_id: str, version: str, day: date, channel: str, lang: str) -> str:
    heading = t(
        "site.employee.evaluation_of",
        lang,
        scorecard=cards.title(card_id, version, lang),
        date=wording.day(day, lang),
        channel=channel_label(channel, lang),
    )
    return f'<article class="comment-block">\n<h3>{escape(heading)}</h3>\n'


# The same few criteria and questions are commented on again and again, on every page: their
# escaped labels are looked up once per scorecard version (a CardBook is hashed by identity).
@lru_cache(maxsize=16384)
def _comment_label(cards: CardBook, card_id: str, version: str, key: str, lang: str) -> Markup:
    criterion = cards.criterion(card_id, version, key)
    return escape(criterion.label.get(lang) if criterion else t("site.employee.comment_general", lang))


@lru_cache(maxsize=16384)
def _question_label(cards: CardBook, card_id: str, version: str, key: str, lang: str) -> Markup:
    question = cards.question(card_id, version, key)
    return escape(question.label.get(lang) if question else key)


def employee_page(
    employee: Employee,
    count: int,
    last_day: date | None,
    analysed: Analysed,
    cards: CardBook,
    info: PageInfo,
    redacted: Sequence[Redacted],
    rows: Markup,
) -> dict[str, Any]:
    """Everything employee.html shows for one employee in one language (`count`: their approved
    evaluations, `last_day`: the latest one's day, `redacted`: redacted_texts, `rows`: this
    language's employee_rows)."""
    lang = info.lang
    analysis = analysed.analysis
    behaviours = behaviours_context(analysis, lang)
    trend = trend_context(analysis, lang)
    balance = None
    if analysis.lag is not None:
        balance = t(f"site.employee.balance_{analysis.lag.behaviour}", lang)
    title = t("site.employee.title", lang, name=employee.display_name)
    as_of = wording.day(last_day, lang) if last_day else None
    return {
        "page": page_frame(info, title, charts_used=bool(behaviours["chart"] or trend["chart"])),
        "employee": {"name": employee.display_name},
        "as_of": t("site.data_as_of", lang, date=as_of) if as_of else None,
        "headline": headline_context(analysis, cards, lang),
        "behaviours": behaviours,
        "trend": trend,
        "strengths": criteria_context(analysis.strengths, cards, lang, focus=False),
        "focus": criteria_context(analysis.focus, cards, lang, focus=True),
        "balance": balance,
        "comments": comment_blocks(redacted, cards, lang),
        "comments_count": min(count, COMMENTS_SHOWN),
        "evaluations": rows,
    }
