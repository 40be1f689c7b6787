"""Mes évaluations: what I submitted, its score and status, and what a QA lead returned to correct."""

from __future__ import annotations

import streamlit as st

from qa import evaluations
from qa.errors import NotFound, QAError
from ui import draft, session, view

page = session.guard("view_own")
t = page.t


def correct(evaluation_id: str) -> None:
    """Reopen a returned evaluation as a draft and go to the form."""
    try:
        state = evaluations.reopen(page.store, page.actor, evaluation_id)
    except QAError as error:
        session.show_error(error)
        return
    draft.open_draft(state, t("ui.mine.correcting"))
    st.switch_page("pages/evaluate.py")


st.header(t("ui.mine.title"))
everything = st.toggle(t("ui.mine.all"), key="mine_all", help=t("ui.mine.all_help"))
found = (
    evaluations.visible_evaluations(page.store, page.actor, mine=True)
    if everything
    else evaluations.recent_evaluations(page.store, page.actor)
)
mine = sorted(found, key=lambda e: e.status != "returned")  # returned first: they wait for this user
asked = st.query_params.get("id")
chosen = None
if asked:
    # An address with ?id=... opens one evaluation, if this user may read it (not found otherwise).
    try:
        chosen = evaluations.open_evaluation(page.store, page.actor, asked)
    except NotFound:
        st.error(t("ui.mine.not_found"))
if chosen is None:
    if not mine:
        st.info(t("ui.mine.empty"))
        st.stop()
    returned = [e for e in mine if e.status == "returned"]
    if returned:
        st.warning(t("ui.mine.returned", n=len(returned)))
    st.dataframe(view.table(page, mine), hide_index=True, width="stretch")
    labels = {e.id: f"{view.when(e.started_at)} · {t('status.' + e.status)} · {e.id}" for e in mine}
    picked = st.selectbox(
        t("ui.mine.open"),
        list(labels),
        format_func=labels.get,
        index=None,
        key="mine_pick",
        placeholder=t("ui.form.employee_placeholder"),
    )
    if picked:
        chosen = evaluations.open_evaluation(page.store, page.actor, picked)
if chosen is not None:
    st.divider()
    if chosen.status == "returned" and chosen.evaluator == page.actor.name:
        st.warning(t("ui.mine.returned_one"))
        st.text(evaluations.return_comment(page.store, page.actor, chosen.id) or "")
        if st.button(t("ui.mine.correct"), key="correct", type="primary", icon=":material/edit:"):
            correct(chosen.id)
    view.show(page, chosen)
