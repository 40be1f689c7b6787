"""Échantillonnage: import call logs, draw a reproducible sample of calls, follow and verify draws."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from qa import draws
from qa.auth import require
from qa.call_logs import ImportRefused
from qa.draws import SamplingError
from qa.errors import QAError
from qa.interactions import guess_mapping, import_interactions, list_mappings, load_mapping, read_table
from qa.sampling import STRATA, SamplingPlan
from ui import session
from ui.view import when

page = session.guard("sample")
t, lang, store, actor = page.t, page.lang, page.store, page.actor


def months(count: int = 13) -> list[str]:
    """The last `count` months and every month already drawn, the newest first."""
    today = date.today()
    out = {str(d.plan.get("period")) for d in store.list_draws() if d.plan.get("period")}
    year, month = today.year, today.month
    for _ in range(count):
        out.add(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return sorted(out, reverse=True)


def show_error(error: QAError) -> None:
    st.error(error.message(lang) if isinstance(error, SamplingError) else str(error))


def outcome(result: draws.DrawOutcome) -> None:
    st.success(t("ui.sampling.drawn", id=result.draw.id, n=len(result.draw.selected), seed=result.draw.seed))
    loads: dict[str, int] = {}
    for a in result.assignments:
        loads[a.evaluator] = loads.get(a.evaluator, 0) + 1
    st.text(" · ".join(f"{name} : {n}" for name, n in sorted(loads.items())))
    for line in draws.describe_shortfalls(result.draw.shortfalls, lang):
        st.warning(line)


def draw_tab() -> None:
    st.caption(t("ui.sampling.draw_intro"))
    with st.form("sampling_plan"):
        choices = months()
        last_month = f"{date.today().replace(day=1) - timedelta(days=1):%Y-%m}"
        period = st.selectbox(t("ui.sampling.period"), choices, index=choices.index(last_month), key="sampling_period")
        quota = st.number_input(t("ui.sampling.quota"), min_value=1, max_value=1000, value=4, key="sampling_quota")
        strata = st.multiselect(
            t("ui.sampling.strata"),
            list(STRATA),
            default=["channel", "week"],
            format_func=lambda d: t(f"sampling.dimension.{d}"),
            key="sampling_strata",
        )
        minimum = st.number_input(t("ui.sampling.min_duration"), min_value=0, value=30, key="sampling_min_duration")
        seed = st.text_input(t("ui.sampling.seed"), key="sampling_seed", help=t("ui.sampling.seed_help"))
        submitted = st.form_submit_button(t("ui.sampling.draw"), type="primary", icon=":material/casino:")
    if submitted:
        try:
            if seed.strip() and not seed.strip().isdigit():
                raise QAError(t("ui.sampling.bad_seed"))
            plan = SamplingPlan(period=period, quota=int(quota), strata=tuple(strata), min_duration=int(minimum))
            result = draws.run_draw(store, plan, seed=int(seed) if seed.strip() else None, actor=actor)
        except QAError as error:
            show_error(error)
        except ValueError as error:  # a plan the model refuses (pydantic names the field)
            st.error(str(error))
        else:
            outcome(result)


def draws_tab() -> None:
    recorded = list(reversed(store.list_draws()))
    if not recorded:
        st.info(t("ui.sampling.no_draws"))
        return
    labels = {d.id: f"{d.plan.get('period')} · {len(d.selected)} · {when(d.created_at)} · {d.id}" for d in recorded}
    picked = st.selectbox(t("ui.sampling.pick"), list(labels), format_func=labels.get, key="sampling_pick")
    try:
        progress = draws.draw_progress(store, picked, actor=actor)
    except QAError as error:
        show_error(error)
        return
    except ValueError as error:  # a stored plan this version cannot read
        st.error(str(error))
        return
    left, middle, right = st.columns(3)
    left.metric(t("ui.sampling.drawn_count"), progress.drawn)
    middle.metric(t("ui.sampling.assigned_count"), progress.assigned)
    right.metric(t("ui.sampling.evaluated_count"), progress.evaluated)
    if progress.drawn:
        st.progress(progress.evaluated / progress.drawn, text=t("ui.sampling.done_share", done=progress.evaluated,
                                                                  total=progress.drawn))  # fmt: skip
    if progress.evaluators:
        st.dataframe(pd.DataFrame(progress.evaluators), hide_index=True, width="stretch")
    if st.button(t("ui.sampling.verify"), key="sampling_verify", icon=":material/verified:"):
        try:
            require(actor, "sample")
            check = draws.verify_draw(store, picked)
        except QAError as error:
            show_error(error)
        else:
            (st.success if check.matches else st.error)(
                t("ui.sampling.verified" if check.matches else "ui.sampling.not_verified", id=check.draw_id)
            )
            for line in [*check.differences, *check.notes]:
                if line:
                    st.text(line)
    if st.button(t("ui.sampling.topup"), key="sampling_topup", icon=":material/add_circle:"):
        try:
            outcome(draws.topup(store, picked, actor=actor))
        except QAError as error:
            show_error(error)


def import_tab() -> None:
    st.caption(t("ui.sampling.import_intro"))
    uploaded = st.file_uploader(t("ui.sampling.file"), type=["csv", "txt", "xlsx"], key="sampling_file")
    saved = list_mappings(session.data_dir())
    mapping_name = st.selectbox(
        t("ui.sampling.mapping"),
        ["", *saved],
        format_func=lambda name: name or t("ui.sampling.mapping_guess"),
        key="sampling_mapping",
    )
    skip = st.toggle(t("ui.sampling.skip_unknown"), key="sampling_skip_unknown")
    if uploaded is not None and st.button(t("ui.sampling.import"), key="sampling_import", type="primary"):
        data, name = uploaded.getvalue(), uploaded.name
        try:
            mapping = (
                load_mapping(session.data_dir(), mapping_name)
                if mapping_name
                else guess_mapping(read_table(data, name).frame.columns)
            )
            report = import_interactions(store, data, name, mapping, skip_unknown_employees=skip, actor=actor)
        except ImportRefused as refused:
            st.error(refused.render(lang))
        except QAError as error:
            show_error(error)
        else:
            st.success(t("ui.sampling.imported", rows=report.rows, added=report.added, present=report.already_present))
            if report.skipped_rows:
                st.warning(
                    t("ui.sampling.skipped", n=report.skipped_rows, employees=", ".join(report.unknown_employees))
                )


st.header(t("ui.sampling.title"))
tabs = st.tabs([t("ui.sampling.tab_draw"), t("ui.sampling.tab_draws"), t("ui.sampling.tab_import")])
with tabs[0]:
    draw_tab()
with tabs[1]:
    draws_tab()
with tabs[2]:
    import_tab()
