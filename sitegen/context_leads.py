"""Pure functions for the QA leads' pages: the overview of teams and one page per team.

A team's or a site's score is the mean of its employees' mean scores (each person counts once,
however often they were evaluated), with a t interval over those people.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from qa.i18n import t
from qa.models import Assignment, Employee
from qa.scorecard_model import BEHAVIOURS
from qa.stats import Interval, mean_interval
from sitegen import charts, wording
from sitegen.analysis import EmployeeAnalysis
from sitegen.cards import CardBook
from sitegen.context import PageInfo, criterion_texts, page_frame
from sitegen.frame import Analysed

BIN_WIDTH = 10


@dataclass(frozen=True)
class Member:
    """One employee as the leads' pages see them: their analysis and their mean scores."""

    employee: Employee
    analysis: EmployeeAnalysis
    scores: tuple[float, ...]  # overall score of each approved evaluation
    mean: float | None
    behaviour_means: dict[str, float]

    @classmethod
    def of(cls, employee: Employee, analysed: Analysed) -> Member:
        scores = tuple(v for v in analysed.overall if v is not None)
        mean = sum(scores) / len(scores) if scores else None
        return cls(employee, analysed.analysis, scores, mean, analysed.behaviour_means)

    def behaviour_mean(self, behaviour: str) -> float | None:
        return self.behaviour_means.get(behaviour)


def group_interval(values: Iterable[float | None]) -> Interval:
    return mean_interval([v for v in values if v is not None])


def completion(assignments: Iterable[Assignment], employee_ids: set[str]) -> tuple[int, int]:
    """(done, planned) among the sampled interactions of these employees (cancelled ones left out)."""
    done = planned = 0
    for assignment in assignments:
        if assignment.employee_id in employee_ids and assignment.status != "cancelled":
            planned += 1
            done += assignment.status == "done"
    return done, planned


def completion_text(done: int, planned: int, lang: str) -> str:
    if not planned:
        return t("site.none", lang)
    return f"{done}/{planned} ({wording.percent(done / planned, lang)})"


def behaviour_grid(groups: Mapping[str, Sequence[Member]], lang: str) -> dict[str, Any]:
    """Heatmap and table of mean behaviour scores per group (team or site), with intervals."""
    columns = [t(f"behaviour.{b}", lang) for b in BEHAVIOURS]
    names, matrix, rows = [], [], []
    for name in sorted(groups):
        intervals = [group_interval(m.behaviour_mean(b) for m in groups[name]) for b in BEHAVIOURS]
        names.append(name)
        matrix.append([i.mean if wording.usable(i) else None for i in intervals])
        cells = [
            f"{wording.mean_or_not_enough(i, lang)} ({wording.interval_range(i, lang)})"
            if wording.usable(i)
            else wording.mean_or_not_enough(i, lang)
            for i in intervals
        ]
        rows.append({"label": name, "cells": cells})
    figure = None
    if any(v is not None for row in matrix for v in row):
        figure = charts.embed(charts.heatmap(names, columns, matrix))
    return {"chart": figure, "columns": columns, "rows": rows}


def _team_name(employee: Employee) -> str:
    return employee.team or "—"


def _site_name(employee: Employee) -> str:
    return employee.site or "—"


def index_page(
    members: Sequence[Member],
    assignments: Sequence[Assignment],
    team_hrefs: Mapping[str, str],
    info: PageInfo,
    as_of: str | None,
) -> dict[str, Any]:
    """The leads' overview: teams with their score and completion, behaviours by team and by site."""
    lang = info.lang
    teams: dict[str, list[Member]] = defaultdict(list)
    sites: dict[str, list[Member]] = defaultdict(list)
    for member in members:
        teams[_team_name(member.employee)].append(member)
        sites[_site_name(member.employee)].append(member)
    rows = []
    for name in sorted(teams):
        interval = group_interval(m.mean for m in teams[name])
        done, planned = completion(assignments, {m.employee.id for m in teams[name]})
        rows.append(
            {
                "label": name,
                "href": team_hrefs[name],
                "employees": len(teams[name]),
                "n": sum(m.analysis.n for m in teams[name]),
                "mean": wording.mean_or_not_enough(interval, lang),
                "interval": wording.interval_range(interval, lang)
                if wording.usable(interval)
                else wording.t_none(lang),
                "completion": completion_text(done, planned, lang),
            }
        )
    by_team, by_site = behaviour_grid(teams, lang), behaviour_grid(sites, lang)
    return {
        "page": page_frame(info, t("site.leads.title", lang), charts_used=bool(by_team["chart"] or by_site["chart"])),
        "teams": rows,
        "by_team": by_team,
        "by_site": by_site,
        "as_of": t("site.data_as_of", lang, date=as_of) if as_of else None,
    }


def _distribution(members: Sequence[Member], lang: str) -> dict[str, Any]:
    bins_count = 100 // BIN_WIDTH
    scores = np.fromiter(chain.from_iterable(m.scores for m in members), dtype=np.float64)
    # 100 falls in the last bin; a score below 0 (none is) would fall in the first.
    where = np.clip(np.floor_divide(scores, BIN_WIDTH).astype(np.int64), 0, bins_count - 1)
    counts = np.bincount(where, minlength=bins_count).tolist()
    bins = [f"{low}–{low + BIN_WIDTH}" for low in range(0, 100, BIN_WIDTH)]
    rows = [{"label": b, "cells": [c]} for b, c in zip(bins, counts, strict=True)]
    figure = None
    if sum(counts):
        lows = list(range(0, 100, BIN_WIDTH))
        titles = (t("site.column.score", lang), t("site.column.count", lang))
        figure = charts.embed(charts.histogram(lows, BIN_WIDTH, counts, *titles))
    return {"chart": figure, "columns": [t("site.column.count", lang)], "rows": rows}


def _coaching(members: Sequence[Member], cards: CardBook, lang: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Conclusive members by the upper end of their interval (surely low first); the others apart."""
    conclusive = [m for m in members if m.analysis.headline.conclusive]
    conclusive.sort(key=lambda m: (m.analysis.headline.interval.high or 0.0, m.employee.display_name, m.employee.id))
    rows = []
    for member in conclusive:
        analysis = member.analysis
        interval = analysis.headline.interval
        band = cards.band_label(*analysis.band, lang) if analysis.band else wording.t_none(lang)
        focus = "; ".join(criterion_texts(s, cards, lang)["label"] for s in analysis.focus[:2]) or wording.t_none(lang)
        rows.append(
            {
                "label": member.employee.display_name,
                "cells": [
                    wording.mean_or_not_enough(interval, lang),
                    wording.interval_range(interval, lang),
                    band,
                    focus,
                ],
            }
        )
    coaching = {
        "columns": [
            t("site.column.mean", lang),
            t("site.column.interval", lang),
            t("site.column.band", lang),
            t("site.column.focus", lang),
        ],
        "rows": rows,
    }
    others = sorted(
        (m for m in members if not m.analysis.headline.conclusive),
        key=lambda m: (m.employee.display_name, m.employee.id),
    )
    more_rows = []
    for member in others:
        needed = member.analysis.headline.needed_n
        more_rows.append(
            {
                "label": member.employee.display_name,
                "cells": [member.analysis.n, needed if needed is not None else wording.t_none(lang)],
            }
        )
    more = {"columns": [t("site.column.n", lang), t("site.column.needed", lang)], "rows": more_rows}
    return coaching, more


def team_page(
    team: str,
    members: Sequence[Member],
    assignments: Sequence[Assignment],
    cards: CardBook,
    info: PageInfo,
    back_href: str,
    as_of: str | None,
) -> dict[str, Any]:
    """One team: who to coach first and on what, the distribution of scores, sites, completion."""
    lang = info.lang
    sites: dict[str, list[Member]] = defaultdict(list)
    for member in members:
        sites[_site_name(member.employee)].append(member)
    coaching, more = _coaching(members, cards, lang)
    distribution = _distribution(members, lang)
    by_site = behaviour_grid(sites, lang)
    done, planned = completion(assignments, {m.employee.id for m in members})
    completion_rows = (
        [{"label": team, "cells": [done, planned, wording.percent(done / planned, lang)]}] if planned else []
    )
    return {
        "page": page_frame(
            info,
            t("site.leads.team_title", lang, team=team),
            charts_used=bool(distribution["chart"] or by_site["chart"]),
        ),
        "back_href": back_href,
        "employees_count": len(members),
        "coaching": coaching,
        "more_needed": more,
        "distribution": distribution,
        "by_site": by_site,
        "completion": {
            "columns": [t("site.column.done", lang), t("site.column.planned", lang), t("site.column.completion", lang)],
            "rows": completion_rows,
        },
        "as_of": t("site.data_as_of", lang, date=as_of) if as_of else None,
    }
