"""Tableau de bord: scores, behaviours, trends, coaching priorities, sample completion and drift (QA leads)."""

from __future__ import annotations

import html
from datetime import datetime

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from qa import dashboard as dash
from qa.errors import QAError
from ui import session

page = session.guard("dashboard")
t, lang = page.t, page.lang
BEHAVIOURS = ("courtesy", "listening", "empathy", "solution")


# The frame behind every chart is read from the store's column views and kept while the tables
# it comes from are unchanged: each rerun asks for their stamp (a stat of their files, a few ms)
# and rebuilds only after an evaluation, an employee or a draw was written. At 100,000
# evaluations a build costs about 0.5 s of CPU in a fresh server process (the store's column
# views, then 0.1 s for the frame), less once the views are in memory; the libraries it needs
# were imported in the background after the QA lead's first page (streamlit_app.py). A filter
# change then costs only the charts (bench/dashboard.py). The actor is part of the key, so the
# domain's permission check ran for each user who gets this data.
@st.cache_resource(show_spinner=False, max_entries=4)
def _data(
    folder: str, stamp: str, _store, actor, language: str, versions: tuple, _cards
) -> tuple[dash.DashboardData, datetime]:
    data = dash.load_dashboard(_store, actor, lang=language, cards=_cards)
    return data, datetime.now().astimezone()


# The charts of one set of filters: a rerun that changes no filter (the behaviours' grouping,
# a download, a tab) reuses them. Frames handed out from here are never changed by the page.
@st.cache_resource(show_spinner=False, max_entries=16)
def _view(folder: str, stamp: str, actor, language: str, versions: tuple, filters: str, period: str, _data, _filters):
    return dash.dashboard_view(_data, _filters, period=period)


def label(text: object) -> str:
    """Plotly reads a subset of HTML in labels: user-entered names must not become markup."""
    return html.escape(str(text))


def download(frame: pd.DataFrame, name: str) -> None:
    # The CSV is made when the button is clicked, not on every rerun (a fifth of a rerun's time).
    st.download_button(
        t("dashboard.download"),
        lambda: dash.safe_csv(frame),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"download_{name}",
        icon=":material/download:",
        on_click="ignore",
    )


def figure_layout(fig: go.Figure, x: str, y: str) -> go.Figure:
    # No named template: copying one costs ~25 ms a chart, and st.plotly_chart applies its own theme.
    fig.update_layout(
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        height=380,
        xaxis_title=x,
        yaxis_title=y,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def filters_form(data: dash.DashboardData) -> tuple[dash.Filters, str]:
    options = dash.filter_options(data)
    cards = session.scorecards()
    with st.expander(t("dashboard.filters"), expanded=False, icon=":material/filter_list:"):
        months = options["month"]
        start = end = None
        if len(months) >= 2:
            start, end = st.select_slider(
                t("dashboard.period"), months, value=(months[0], months[-1]), key="dash_period"
            )
        teams = st.multiselect(t("dashboard.team"), options["team"], key="dash_team")
        sites = st.multiselect(t("dashboard.site"), options["site"], key="dash_site")
        channels = st.multiselect(
            t("dashboard.channel"), options["channel"], format_func=lambda c: t(f"channel.{c}"), key="dash_channel"
        )
        scorecards = st.multiselect(
            t("dashboard.scorecard"),
            options["scorecard_id"],
            format_func=lambda c: cards[c].card.title.get(lang) if c in cards else c,
            key="dash_scorecard",
        )
        submitted = st.checkbox(t("dashboard.include_submitted"), key="dash_submitted")
        period = st.radio(
            t("dashboard.granularity"),
            ("month", "week"),
            format_func=lambda p: t(f"dashboard.{p}"),
            horizontal=True,
            key="dash_granularity",
        )
    filters = dash.Filters(
        start_month=start,
        end_month=end,
        teams=tuple(teams),
        sites=tuple(sites),
        channels=tuple(channels),
        scorecards=tuple(scorecards),
        statuses=("approved", "submitted") if submitted else ("approved",),
    )
    return filters, period


def number(value: float) -> str:
    return "—" if pd.isna(value) else f"{value:.1f}"


def distribution_tab(view: dash.DashboardView) -> None:
    st.caption(t("dashboard.distribution.caption"))
    cards = session.scorecards()
    fig = go.Figure()
    for card_id, part in view.distribution.groupby("scorecard_id"):
        title = cards[card_id].card.title.get(lang) if card_id in cards else card_id
        fig.add_bar(x=(part["bin_low"] + part["bin_high"]) / 2, y=part["count"], width=5, name=label(title))
    st.plotly_chart(
        figure_layout(fig, t("dashboard.distribution.x"), t("dashboard.distribution.y")), key="chart_distribution"
    )
    for row in view.summary.itertuples():
        title = cards[row.scorecard_id].card.title.get(lang) if row.scorecard_id in cards else row.scorecard_id
        st.text(
            t(
                "dashboard.distribution.summary",
                card=title,
                mean=number(row.mean),
                low=number(row.low),
                high=number(row.high),
                n=row.n,
            )
        )
    download(view.distribution, "distribution")


def behaviours_tab(view: dash.DashboardView) -> None:
    by = st.radio(
        t("dashboard.behaviours.by"),
        ("team", "site", "channel"),
        format_func=lambda b: t(f"dashboard.columns.{b}") if b != "channel" else t("dashboard.channel"),
        horizontal=True,
        key="dash_by",
    )
    table = view.behaviours[by]
    st.caption(t("dashboard.behaviours.caption"))
    fig = go.Figure()
    kinds = table["behaviour"].to_numpy(dtype=object)  # one conversion, not one Arrow compare per trace
    for behaviour in BEHAVIOURS:
        part = table[kinds == behaviour]
        if part.empty:
            continue
        groups = [t(f"channel.{g}") if by == "channel" else g for g in part["group"]]
        fig.add_bar(
            x=[label(g) for g in groups],
            y=part["mean"],
            name=t(f"behaviour.{behaviour}"),
            error_y={
                "type": "data",
                "symmetric": False,
                "array": part["high"] - part["mean"],
                "arrayminus": part["mean"] - part["low"],
            },
        )
    fig.update_layout(barmode="group", yaxis_range=[0, 100])
    st.plotly_chart(figure_layout(fig, "", t("dashboard.behaviours.y")), key="chart_behaviours")
    download(table, f"behaviours_by_{by}")


def trends_tab(view: dash.DashboardView) -> None:
    st.caption(t("dashboard.trends.caption"))
    fig = go.Figure()
    measures = view.trend["measure"].to_numpy(dtype=object)
    for measure in ("overall", *BEHAVIOURS):
        part = view.trend[measures == measure]
        if part.empty:
            continue
        name = t("dashboard.trends.overall") if measure == "overall" else t(f"behaviour.{measure}")
        fig.add_scatter(
            x=part["period"],
            y=part["mean"],
            mode="lines+markers",
            name=name,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": part["high"] - part["mean"],
                "arrayminus": part["mean"] - part["low"],
            },
        )
    fig.update_layout(yaxis_range=[0, 100])
    st.plotly_chart(figure_layout(fig, t("dashboard.trends.x"), t("dashboard.trends.y")), key="chart_trends")
    download(view.trend, "trends")


def columns(frame: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    return frame[list(names)].rename(columns={k: t(f"dashboard.columns.{v}") for k, v in names.items()})


def priorities_tab(view: dash.DashboardView) -> None:
    st.subheader(t("dashboard.priorities.people"))
    st.caption(t("dashboard.priorities.people_caption", min_n=dash.MIN_N, target=f"{dash.TARGET_HALF_WIDTH:g}"))
    people = view.priorities.copy()
    people["weakest_behaviour"] = [t(f"behaviour.{b}") if b else "" for b in people["weakest_behaviour"]]
    # "—" for a conclusive person, "?" when no spread is known yet to plan with.
    people["needed"] = [
        "—" if done else ("?" if pd.isna(k) else str(k))
        for done, k in zip(people["conclusive"], people["needed"], strict=True)
    ]
    st.dataframe(
        columns(
            people,
            {
                "employee_id": "employee",
                "team": "team",
                "site": "site",
                "n": "n",
                "mean": "mean",
                "low": "low",
                "high": "high",
                "conclusive": "conclusive",
                "needed": "needed",
                "weakest_behaviour": "weakest",
            },
        ),
        hide_index=True,
        key="table_priorities",
    )
    download(view.priorities, "coaching_priorities")
    st.subheader(t("dashboard.priorities.criteria"))
    st.caption(t("dashboard.priorities.criteria_caption"))
    st.dataframe(
        columns(
            view.criteria,
            {
                "label": "criterion",
                "weight": "weight",
                "answered": "n",
                "failure_rate": "failure_rate",
                "low": "low",
                "high": "high",
            },
        ),
        hide_index=True,
        key="table_criteria",
    )
    download(view.criteria, "criteria")


def completion_tab(view: dash.DashboardView) -> None:
    st.caption(t("dashboard.completion.caption"))
    table = view.completion
    if table.empty:
        st.info(t("dashboard.completion.none"))
        return
    fig = go.Figure()
    for stage in ("drawn", "assigned", "evaluated", "approved"):
        fig.add_bar(x=[label(d) for d in table["draw_id"]], y=table[stage], name=t(f"dashboard.completion.{stage}"))
    fig.update_layout(barmode="group")
    st.plotly_chart(figure_layout(fig, "", ""), key="chart_completion")
    download(table, "sample_completion")


def drift_tab(view: dash.DashboardView) -> None:
    st.caption(t("dashboard.drift.caption"))
    table = view.drift.dropna(subset=["shift"])
    if table.empty:
        st.info(t("dashboard.drift.none"))
        return
    for row in table[table["flagged"]].itertuples():
        st.warning(
            t(
                "dashboard.drift.flagged",
                name=row.evaluator,
                direction=t(f"dashboard.drift.{row.direction}"),
                shift=f"{row.shift:+.1f}",
                low=f"{row.low:+.1f}",
                high=f"{row.high:+.1f}",
            ),
            icon=":material/balance:",
        )
    ordered = table.sort_values("shift")
    fig = go.Figure(
        go.Bar(
            x=ordered["shift"],
            y=[label(e) for e in ordered["evaluator"]],
            orientation="h",
            marker_color=["#b3261e" if f else "#5f6b7a" for f in ordered["flagged"]],
            error_x={
                "type": "data",
                "symmetric": False,
                "array": ordered["high"] - ordered["shift"],
                "arrayminus": ordered["shift"] - ordered["low"],
            },
        )
    )
    st.plotly_chart(figure_layout(fig, t("dashboard.drift.x"), ""), key="chart_drift")
    st.dataframe(
        columns(
            view.drift,
            {
                "evaluator": "evaluator",
                "n_pairs": "pairs",
                "shift": "shift",
                "low": "low",
                "high": "high",
                "flagged": "flagged",
            },
        ),
        hide_index=True,
        key="table_drift",
    )
    download(view.drift, "evaluator_drift")


st.header(t("dashboard.title"))
try:
    cards = session.scorecards()
    versions = tuple(sorted((card_id, loaded.version) for card_id, loaded in cards.items()))
    key = (str(session.data_dir()), dash.data_stamp(page.store))
    with st.spinner(t("dashboard.loading")):
        data, built_at = _data(*key, page.store, page.actor, lang, versions, {k: v.card for k, v in cards.items()})
    filters, period = filters_form(data)
    view = _view(*key, page.actor, lang, versions, repr(filters), period, data, filters)
except QAError as error:
    session.show_error(error)
    st.stop()

st.text(t("dashboard.count", n=view.count) + " · " + t("dashboard.as_of", time=built_at.strftime("%d/%m/%Y %H:%M")))
if view.count == 0:
    st.info(t("dashboard.empty"))
names = ("distribution", "behaviours", "trends", "priorities", "completion", "drift")
tabs = st.tabs([t(f"dashboard.tabs.{name}") for name in names])
for tab, show in zip(
    tabs, (distribution_tab, behaviours_tab, trends_tab, priorities_tab, completion_tab, drift_tab), strict=True
):
    with tab:
        show(view)
