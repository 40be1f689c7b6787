"""Numbers, dates, intervals and periods as a page writes them, in French or English."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from qa.i18n import t
from qa.stats import Interval, ProportionInterval


def number(value: float, lang: str, digits: int = 1) -> str:
    """72.4 in English, 72,4 in French; never '-0.0'."""
    text = f"{value:.{digits}f}"
    if text.lstrip("-").strip("0.") == "":
        text = text.lstrip("-")
    return text.replace(".", ",") if lang == "fr" else text


def percent(share: float, lang: str) -> str:
    """0.375 -> '38 %' (fr) or '38%' (en)."""
    return t("site.percent", lang, value=number(100.0 * share, lang, 0))


def day(moment: date | datetime, lang: str) -> str:
    """A date people read: '12 mars 2025' / '12 March 2025'."""
    return _day(moment.year, moment.month, moment.day, lang)


@lru_cache(maxsize=8192)
def _day(year: int, month: int, day_of_month: int, lang: str) -> str:
    # A page shows a date per visit, and visits fall on the same few hundred days.
    name = t(f"site.months.m{month}", lang)
    return t("site.date", lang, day=day_of_month, month=name, year=year)


def short_date(moment: date | datetime) -> str:
    """ISO date for tables (sorts and prints the same in both languages)."""
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"


def period(code: str, lang: str) -> str:
    """'2025-Q2' -> 'T2 2025' (fr) or 'Q2 2025' (en)."""
    year, quarter = code.split("-Q")
    return t("site.period", lang, quarter=quarter, year=year)


def usable(interval: Interval) -> bool:
    """Whether an interval says something: defined (n >= 2) and with some spread.

    Identical scores give a zero-width t interval that proves nothing (see `qa.stats.verdict`):
    three visits scored 100 are not a certain 100.
    """
    return interval.defined and bool(interval.stdev) and interval.mean is not None


def interval_range(interval: Interval, lang: str) -> str:
    """'66.1 to 78.7' for a defined interval, else the 'not enough' words."""
    if not usable(interval) or interval.low is None or interval.high is None:
        return t("site.not_enough_short", lang)
    return t("site.interval_short", lang, low=number(interval.low, lang), high=number(interval.high, lang))


def mean_or_not_enough(interval: Interval, lang: str) -> str:
    """The mean when its interval is defined (n >= 2), else the 'not enough' words: never a bare score."""
    if not usable(interval) or interval.mean is None:
        return t("site.not_enough_short", lang)
    return number(interval.mean, lang)


def pass_rate(rate: ProportionInterval, lang: str) -> str:
    """'Passed 3 times out of 8 (38%, 95% CI: 14% to 69%).'"""
    if rate.proportion is None or rate.low is None or rate.high is None:
        return t("site.not_enough_short", lang)
    return _pass_rate(rate.successes, rate.n, rate.proportion, rate.low, rate.high, lang)


@lru_cache(maxsize=65536)
def _pass_rate(successes: int, seen: int, proportion: float, low: float, high: float, lang: str) -> str:
    # Criteria are passed k times out of n: the same few thousand (k, n) on a thousand pages.
    return t(
        "site.employee.rate",
        lang,
        passes=successes,
        seen=seen,
        rate=percent(proportion, lang),
        low=percent(low, lang),
        high=percent(high, lang),
    )


def t_none(lang: str) -> str:
    """The dash shown in a table cell that has nothing to say."""
    return t("site.none", lang)
