"""Évaluer: a new mystery visit or an assigned call, scored step by step; the draft saves itself."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from qa import evaluations
from qa.errors import QAError
from ui import draft, form, session

page = session.guard("evaluate")
t, lang = page.t, page.lang
AUTO_RESUMED = "auto_resumed"


def call_scorecard(channel: str):
    for loaded in session.behaviour_scorecards(channel).values():
        return loaded
    raise QAError(t("ui.evaluate.no_call_scorecard"))


def when(moment: datetime) -> str:
    return moment.astimezone(draft.local_tz()).strftime("%d/%m/%Y %H:%M")


def _open(state: dict, notice: str | None = None) -> None:
    draft.open_draft(state, notice)


def _start(kind: str, value: str | None = None) -> None:
    actor = session.current_actor()
    if actor is None:
        return
    store = session.store()
    try:
        if kind == "resume":
            state = evaluations.resume(store, actor, value or "")
            if state is None:
                raise QAError(t("ui.evaluate.draft_gone"))
        elif kind == "visit":
            state = evaluations.start_visit(store, actor, session.scorecard(value or ""), tz=draft.local_tz())
        else:
            interaction = (value or "").strip()
            channel = evaluations.interaction_channel(store, actor, interaction)
            state = evaluations.start_call(store, actor, call_scorecard(channel), interaction)
    except QAError as error:
        st.session_state[draft.SAVE_ERROR] = str(error)
        return
    _open(state)


def _call_from_input() -> None:
    _start("call", st.session_state.get("call_id", ""))


def chooser() -> None:
    if st.session_state.get(draft.SAVE_ERROR):
        st.error(st.session_state.pop(draft.SAVE_ERROR))
    drafts = evaluations.drafts(page.store, page.actor)
    if drafts:
        st.subheader(t("ui.evaluate.drafts"))
        for n, saved in enumerate(drafts):
            state = saved.state
            employee = evaluations.employee_of(page.store, page.actor, state)
            where = (state.get("context") or {}).get("site") or state.get("interaction_id") or ""
            title = session.scorecards().get(state.get("scorecard_id"))
            with st.container(border=True):
                st.markdown(f"**{title.card.title.get(lang) if title else state.get('scorecard_id')}**")
                st.caption(
                    " · ".join(
                        p
                        for p in (
                            employee.display_name if employee else "",
                            str(where),
                            t("ui.evaluate.saved_at", when=when(saved.updated_at)),
                        )
                        if p
                    )
                )
                st.button(
                    t("ui.evaluate.resume"),
                    key=f"resume_{n}",
                    on_click=_start,
                    args=("resume", saved.key),
                    type="primary",
                    width="stretch",
                )
    st.subheader(t("ui.evaluate.new_visit"))
    cards = session.behaviour_scorecards("face_to_face")
    if len(cards) > 1:
        st.selectbox(
            t("ui.evaluate.scorecard"),
            list(cards),
            format_func=lambda c: cards[c].card.title.get(lang),
            key="new_visit_card",
        )
    chosen = st.session_state.get("new_visit_card") or next(iter(cards), None)
    if chosen:
        st.button(
            t("ui.evaluate.start_visit"),
            key="new_visit",
            on_click=_start,
            args=("visit", chosen),
            type="primary" if not drafts else "secondary",
            width="stretch",
            icon=":material/storefront:",
        )
    assigned = evaluations.my_assignments(page.store, page.actor)
    if assigned:
        st.subheader(t("ui.evaluate.assigned_calls"))
        for a in assigned[:20]:
            st.button(
                t("ui.evaluate.start_call", interaction=a.interaction_id),
                key=f"call_{a.interaction_id}",
                on_click=_start,
                args=("call", a.interaction_id),
                width="stretch",
                icon=":material/call:",
            )
        if len(assigned) > 20:
            st.caption(t("ui.evaluate.more_in_queue", n=len(assigned) - 20))
    if page.actor.can("view_all"):
        with st.expander(t("ui.evaluate.call_by_id")):
            st.text_input(t("ui.evaluate.call_id"), key="call_id")
            st.button(t("ui.evaluate.open_call"), key="open_call", on_click=_call_from_input)


def result() -> None:
    done = st.session_state[draft.RESULT]
    score = done["score"]
    loaded = session.scorecards().get(done["scorecard"])
    band = score.get("band")
    if loaded and band:
        band = next((b.label.get(lang) for b in loaded.card.bands if b.id == band), band)
    overall = score.get("overall")
    st.success(
        t("ui.evaluate.submitted", score=f"{overall:.0f}" if overall is not None else "—", band=band or "—"),
        icon=":material/task_alt:",
    )
    if score.get("critical_failed"):
        st.warning(t("ui.evaluate.critical_failed"))
    st.caption(t("ui.evaluate.submitted_id", id=done["id"]))


state = st.session_state.get(draft.DRAFT)
if state is None and not st.session_state.get(AUTO_RESUMED):
    # After a reload, a dropped connection or a restart: back to the latest draft at once.
    st.session_state[AUTO_RESUMED] = True
    latest = evaluations.drafts(page.store, page.actor)
    if latest:
        state = evaluations.resume(page.store, page.actor, latest[0].key)
        draft.open_draft(state, t("ui.evaluate.resumed", when=when(latest[0].updated_at)))
if state is None:
    st.header(t("ui.evaluate.title"))
    if draft.RESULT in st.session_state:
        result()
    chooser()
else:
    try:
        loaded = session.scorecard(state["scorecard_id"])
    except QAError as error:
        session.show_error(error)
        st.button(t("ui.evaluate.back"), key="leave_draft", on_click=draft.close_draft)
        st.stop()
    form.render(page, loaded, state)
    st.divider()
    st.button(t("ui.evaluate.back"), key="leave_draft", on_click=draft.close_draft, icon=":material/list:")
