"""Calibration: evaluators score the same calls blind; QA leads read agreement, drift and disputes."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from qa import calibration as cal
from qa import disputes
from qa.dashboard import safe_csv
from qa.errors import QAError
from qa.scorecard_model import NA, Criterion, Points, Rating, Scorecard
from ui import form, session

# QA leads only, as the app's navigation lists it: they organise sessions and also score calls in
# them. (Shoppers take part through `qa calibration answer --as`; the domain already lets any
# participant answer, so opening this page to "evaluate" is all a shopper tab would need.)
page = session.guard("calibrate")
t, lang, actor, store = page.t, page.lang, page.actor, page.store
book = cal.CalibrationBook.of(store)


def answer_label(criterion: Criterion):
    labels = (
        {level.value: level.label.get(lang) for level in criterion.scale.labels}
        if isinstance(criterion.scale, Rating)
        else {}
    )

    def show(value: Any) -> str:
        if value in ("yes", "no", NA):
            return t(f"answer.{value}")
        if isinstance(criterion.scale, Points):
            return f"{value}/{criterion.scale.max}"
        return f"{value} · {labels[value]}" if value in labels else str(value)

    return show


def criterion_radio(criterion: Criterion, key: str, current: Any, label: str | None = None) -> Any:
    options = form.answer_options(criterion)
    return st.radio(
        label or criterion.label.get(lang),
        options,
        index=options.index(current) if current in options else None,
        format_func=answer_label(criterion),
        horizontal=True,
        key=key,
        help=criterion.guidance.get(lang),
    )


def number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.{digits}f}"


# --- evaluators: answer blind -------------------------------------------------------------------


def answer_tab() -> None:
    mine = [s for s in cal.list_sessions(book, actor) if s.status == "open" and actor.name in s.participants]
    if not mine:
        st.info(t("calibration.answer.none"))
        return
    chosen = st.selectbox(t("calibration.session"), [s.id for s in mine], key="cal_answer_session")
    current = next(s for s in mine if s.id == chosen)
    card = current.card()
    st.caption(t("calibration.answer.blind"))
    own = current.answers.get(actor.name, {})
    for unit in current.units:
        done = unit.id in own
        with st.expander(
            f"{unit.id} · {t('calibration.answer.done') if done else t('calibration.answer.todo')}", expanded=not done
        ):
            try:
                material = cal.unit_material(store, book, actor, current.id, unit.id)
            except QAError as error:
                session.show_error(error)
                continue
            for field in ("employee_id", "channel", "started_at", "duration_seconds", "recording"):
                if material.get(field) not in (None, ""):
                    st.text(f"{t('calibration.material.' + field)} : {material[field]}")
            for title in ("visit", "debrief", "comments"):
                for key, value in (material.get(title) or {}).items():
                    st.text(f"{key} : {value}")
            with st.form(f"cal_form_{unit.id}"):
                given = {
                    c.id: criterion_radio(c, f"cal_{current.id}_{unit.id}_{c.id}", own.get(unit.id, {}).get(c.id))
                    for c in card.criteria()
                }
                sent = st.form_submit_button(t("calibration.answer.submit"), type="primary")
            if sent:
                try:
                    cal.submit_answers(book, actor, current.id, unit.id, given)
                except QAError as error:
                    session.show_error(error)
                else:
                    st.success(t("calibration.answer.saved", unit=unit.id))


# --- QA leads: sessions and their reports -------------------------------------------------------


def progress_view(session_id: str) -> None:
    done = cal.progress(book, actor, session_id)
    rows = [
        {
            t("calibration.columns.participant"): name,
            t("calibration.columns.answered"): len(units),
            t("calibration.columns.missing"): ", ".join(done.missing[name]),
        }
        for name, units in done.answered.items()
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="cal_progress")
    st.caption(t("calibration.report.hidden"))
    if st.button(t("calibration.close"), key="cal_close", type="primary"):
        try:
            cal.close_session(book, actor, session_id)
        except QAError as error:
            session.show_error(error)
        else:
            st.rerun()


def report_view(session_id: str) -> None:
    result = cal.session_report(book, actor, session_id, lang=lang)
    report = result.report
    st.metric(t("calibration.report.overall"), number(report.overall.value), help=t("calibration.report.thresholds"))
    st.text(t(f"calibration.reading.{report.overall_interpretation}"))
    rows = [
        {
            t("calibration.columns.criterion"): result.labels.get(c.criterion_id, c.criterion_id),
            t("calibration.columns.level"): t(f"calibration.level.{c.alpha.level}"),
            t("calibration.columns.alpha"): c.alpha.value,
            t("calibration.columns.agreement"): None if c.agreement is None else 100 * c.agreement,
            t("calibration.columns.reading"): t(f"calibration.reading.{c.interpretation}"),
        }
        for c in report.criteria
    ]
    criteria = pd.DataFrame(rows)
    st.dataframe(criteria, hide_index=True, key="cal_criteria")
    st.download_button(
        t("calibration.download"),
        safe_csv(criteria),
        file_name=f"{session_id}_criteria.csv",
        mime="text/csv",
        key="cal_dl_criteria",
    )
    for c in report.criteria:
        if c.interpretation == "ambiguous":
            with st.container(border=True):
                st.warning(t("calibration.report.ambiguous", alpha=number(c.alpha.value)), icon=":material/help:")
                st.text(result.labels.get(c.criterion_id, c.criterion_id))
                st.text(c.guidance or "")
    st.subheader(t("calibration.report.deviations"))
    st.caption(t(f"calibration.report.consensus_{report.consensus}"))
    deviations = pd.DataFrame(
        [
            {
                t("calibration.columns.evaluator"): d.evaluator,
                t("calibration.columns.mean_difference"): d.mean_difference,
                t("calibration.columns.mean_abs_difference"): d.mean_abs_difference,
            }
            for d in report.deviations
        ]
    )
    st.dataframe(deviations, hide_index=True, key="cal_deviations")
    st.download_button(
        t("calibration.download"),
        safe_csv(deviations),
        file_name=f"{session_id}_deviations.csv",
        mime="text/csv",
        key="cal_dl_deviations",
    )


def ambiguity_view(scorecard_id: str) -> None:
    loaded = session.scorecards().get(scorecard_id)
    if loaded is None or not actor.can("disputes"):
        return
    st.subheader(t("calibration.ambiguity.title"))
    st.caption(t("calibration.ambiguity.caption"))
    rows = disputes.criterion_ambiguity(store, book, actor, loaded, lang=lang)
    table = pd.DataFrame(rows)[
        ["label", "alpha", "interpretation", "disputes", "overturned", "overturn_rate", "overturn_low", "overturn_high"]
    ]
    table["interpretation"] = [t(f"calibration.reading.{r}") for r in table["interpretation"]]
    table.columns = [t(f"calibration.ambiguity.{c}") for c in table.columns]
    st.dataframe(table, hide_index=True, key="cal_ambiguity")


def sessions_tab() -> None:
    sessions = cal.list_sessions(book, actor)
    if not sessions:
        st.info(t("calibration.none"))
        return
    chosen = st.selectbox(
        t("calibration.session"),
        [s.id for s in sessions],
        format_func=lambda sid: f"{sid} · {t('calibration.status.' + next(s.status for s in sessions if s.id == sid))}",
        key="cal_session",
    )
    current = next(s for s in sessions if s.id == chosen)
    st.text(
        t(
            "calibration.summary",
            scorecard=current.scorecard_id,
            units=", ".join(u.id for u in current.units),
            evaluators=", ".join(current.evaluators),
            reference=current.reference_by or "—",
        )
    )
    try:
        if current.status == "open":
            progress_view(current.id)
        else:
            report_view(current.id)
        ambiguity_view(current.scorecard_id)
    except QAError as error:
        session.show_error(error)


def new_session_tab() -> None:
    cards = session.scorecards()
    users = [u.name for u in store.list_users(active_only=True)]
    with st.form("cal_new"):
        scorecard_id = st.selectbox(
            t("calibration.new.scorecard"),
            list(cards),
            format_func=lambda c: cards[c].card.title.get(lang),
            key="cal_new_scorecard",
        )
        units = st.text_input(t("calibration.new.units"), help=t("calibration.new.units_help"), key="cal_new_units")
        evaluators = st.multiselect(t("calibration.new.evaluators"), users, key="cal_new_evaluators")
        reference = st.selectbox(
            t("calibration.new.reference"), ["", *users], format_func=lambda n: n or "—", key="cal_new_reference"
        )
        sent = st.form_submit_button(t("calibration.new.submit"), type="primary")
    if sent:
        try:
            created = cal.create_session(
                book,
                actor,
                cards[scorecard_id],
                [u for u in units.split(",") if u.strip()],
                evaluators,
                reference_by=reference or None,
                store=store,
            )
        except QAError as error:
            session.show_error(error)
        else:
            st.success(t("calibration.new.created", id=created.id))


# --- QA leads: disputes ---------------------------------------------------------------------------


def card_for(evaluation) -> Scorecard:
    return disputes.card_of(store, evaluation)


def record_dispute() -> None:
    st.subheader(t("calibration.disputes.record"))
    evaluation_id = st.text_input(t("calibration.disputes.evaluation"), key="dispute_evaluation").strip()
    if not evaluation_id:
        return
    try:
        evaluation = store.get_evaluation(evaluation_id)
        card = card_for(evaluation)
    except QAError as error:
        session.show_error(error)
        return
    with st.form("dispute_open"):
        criteria = st.multiselect(
            t("calibration.disputes.criteria"),
            [c.id for c in card.criteria()],
            format_func=lambda cid: card.criterion(cid).label.get(lang),
            key="dispute_criteria",
        )
        reason = st.text_area(t("calibration.disputes.reason"), key="dispute_reason", max_chars=2000)
        sent = st.form_submit_button(t("calibration.disputes.submit"), type="primary")
    if sent:
        try:
            disputes.open_dispute(store, actor, evaluation.id, criteria, reason)
        except QAError as error:
            session.show_error(error)
        else:
            st.success(t("calibration.disputes.recorded", id=evaluation.id))


def resolve_dispute() -> None:
    st.subheader(t("calibration.disputes.open"))
    waiting = disputes.open_disputes(store, actor)
    if not waiting:
        st.info(t("calibration.disputes.none"))
        return
    chosen = st.selectbox(t("calibration.disputes.evaluation"), [ev.id for ev in waiting], key="dispute_chosen")
    evaluation = next(ev for ev in waiting if ev.id == chosen)
    steps = disputes.dispute_history(store, actor, evaluation.id)
    opened = next((s for s in reversed(steps) if s.action == disputes.OPENED), None)
    card = card_for(evaluation)
    st.text(t("calibration.disputes.about", employee=evaluation.employee_id, evaluator=evaluation.evaluator))
    if opened is not None:
        st.text(t("calibration.disputes.why", reason=opened.reason or ""))
    how = st.radio(
        t("calibration.disputes.how"),
        ("rescore", "confirm"),
        format_func=lambda h: t(f"calibration.disputes.{h}"),
        horizontal=True,
        key="dispute_how",
    )
    with st.form("dispute_resolve"):
        changes = {}
        if how == "rescore":
            for cid in opened.criteria if opened else []:
                criterion = card.criterion(cid)
                changes[cid] = criterion_radio(criterion, f"dispute_{evaluation.id}_{cid}", evaluation.answers.get(cid))
        reason = st.text_area(t("calibration.disputes.decision"), key="dispute_decision", max_chars=2000)
        sent = st.form_submit_button(t("calibration.disputes.resolve"), type="primary")
    if sent:
        try:
            if how == "rescore":
                disputes.rescore(
                    store, actor, evaluation.id, {k: v for k, v in changes.items() if v is not None}, reason=reason
                )
            else:
                disputes.confirm(store, actor, evaluation.id, reason)
        except QAError as error:
            session.show_error(error)
        else:
            st.success(t("calibration.disputes.resolved", id=evaluation.id))


def disputes_tab() -> None:
    record_dispute()  # first, so that a dispute just recorded is already in the list below
    resolve_dispute()


st.header(t("calibration.title"))
parts = [("answer", answer_tab)]
if actor.can("calibrate"):
    parts += [("sessions", sessions_tab), ("new", new_session_tab)]
if actor.can("disputes"):
    parts.append(("disputes", disputes_tab))
for tab, (_, show) in zip(st.tabs([t(f"calibration.tabs.{name}") for name, _ in parts]), parts, strict=True):
    with tab:
        try:
            show()
        except QAError as error:
            session.show_error(error)
