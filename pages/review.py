"""Revue: a QA lead opens submitted evaluations and approves them or returns them with a comment."""

from __future__ import annotations

import streamlit as st

from qa import evaluations
from qa.errors import QAError
from ui import session, view

page = session.guard("review")
t = page.t
FLASH = "review_flash"


def decide(action: str, evaluation_id: str) -> None:
    """Approve or return (callback: runs before the page is drawn again, so the list is fresh)."""
    actor = session.current_actor()
    if actor is None:
        return
    try:
        if action == "approve":
            evaluations.approve(session.store(), actor, evaluation_id)
        else:
            comment = st.session_state.get("return_comment", "")
            if not comment.strip():
                st.session_state[FLASH] = ("error", t("ui.review.comment_required"))
                return
            evaluations.return_to_evaluator(session.store(), actor, evaluation_id, comment)
            st.session_state["return_comment"] = ""
    except QAError as error:
        st.session_state[FLASH] = ("error", str(error))
        return
    st.session_state[FLASH] = ("success", t(f"ui.review.done_{action}", id=evaluation_id))
    st.session_state.pop("review_pick", None)


st.header(t("ui.review.title"))
flash = st.session_state.pop(FLASH, None)
if flash:
    (st.success if flash[0] == "success" else st.error)(flash[1])
waiting = evaluations.review_queue(page.store, page.actor)
if not waiting:
    st.info(t("ui.review.empty"))
    st.stop()
st.caption(t("ui.review.count", n=len(waiting)))
st.dataframe(view.table(page, waiting), hide_index=True, width="stretch")
labels = {e.id: f"{view.when(e.started_at)} · {e.evaluator} · {e.id}" for e in waiting}
picked = st.selectbox(
    t("ui.review.open"),
    list(labels),
    format_func=labels.get,
    index=None,
    key="review_pick",
    placeholder=t("ui.form.employee_placeholder"),
)
if picked:
    chosen = evaluations.open_evaluation(page.store, page.actor, picked)
    view.show(page, chosen)
    st.divider()
    st.button(
        t("ui.review.approve"),
        key="approve",
        type="primary",
        on_click=decide,
        args=("approve", chosen.id),
        width="stretch",
        icon=":material/verified:",
    )
    st.text_area(t("ui.review.comment"), key="return_comment", max_chars=evaluations.MAX_COMMENT)
    st.button(
        t("ui.review.return"),
        key="return_eval",
        on_click=decide,
        args=("return", chosen.id),
        width="stretch",
        icon=":material/undo:",
    )
