"""Ma file: the calls assigned to me by a sample draw, oldest first; one tap opens the form."""

from __future__ import annotations

import streamlit as st

from qa import evaluations
from qa.errors import QAError
from ui import draft, session
from ui.view import when

page = session.guard("evaluate")
t = page.t


def start(interaction_id: str) -> None:
    """Open (or resume) the call's draft, then go to the form."""
    try:
        channel = evaluations.interaction_channel(page.store, page.actor, interaction_id)
        loaded = next(iter(session.behaviour_scorecards(channel).values()), None)
        if loaded is None:
            raise QAError(t("ui.evaluate.no_call_scorecard"))
        state = evaluations.start_call(page.store, page.actor, loaded, interaction_id)
    except QAError as error:
        session.show_error(error)
        return
    draft.open_draft(state)
    st.switch_page("pages/evaluate.py")


st.header(t("ui.queue.title"))
items = evaluations.queue(page.store, page.actor)
if not items:
    st.info(t("ui.queue.empty"))
for item in items:
    call = item.interaction
    with st.container(border=True):
        name = item.employee.display_name if item.employee else item.assignment.employee_id
        st.markdown(f"**{t('ui.queue.call', id=item.assignment.interaction_id)}**")
        details = [name, when(call.started_at) if call else ""]
        if call and call.duration_seconds is not None:
            details.append(
                t("ui.queue.duration", minutes=call.duration_seconds // 60, seconds=call.duration_seconds % 60)
            )
        if item.assignment.status == "in_progress":
            details.append(t("ui.queue.in_progress"))
        st.text(" · ".join(d for d in details if d))
        if st.button(
            t("ui.queue.evaluate"),
            key=f"queue_{item.assignment.interaction_id}",
            type="primary",
            width="stretch",
            icon=":material/play_arrow:",
        ):
            start(item.assignment.interaction_id)
