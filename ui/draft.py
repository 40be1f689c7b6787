"""The open draft of a browser tab: its state dict, the callbacks that change it, autosave.

The canonical form state is one dict, the draft (`st.session_state[DRAFT]`), written by the
widgets' `on_change` callbacks and saved in the store on every change. Widgets are initialised
from it (`init`), so moving freely between steps (a widget that is not drawn loses its own state)
and resuming after a reload or a server restart both work.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st

from qa import evaluations
from qa.errors import QAError
from qa.evaluation_checks import EMPLOYEE, context_key, question_key
from ui import session

DRAFT = "draft"  # the open draft's state
PROBLEMS = "draft_problems"  # problem codes of the last refused submission
RESULT = "last_submitted"  # the evaluation just submitted (id, score, band)
NOTICE = "draft_notice"
SAVE_ERROR = "save_error"
SAVED_AT = "saved_at"
UPLOADS = "upload_round"
SCROLL_UP = "scroll_up"
# A constant script (no user text): a new step starts at the top of the page, not where the
# "Next" button was tapped.
SCROLL_TOP = "<script>document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0);</script>"
_WIDGETS = ("ans_", "ctx_", "dq_", "cm_", "employee", "step_nav", "photo_upload")


def local_tz() -> ZoneInfo:
    return ZoneInfo(os.environ.get("QA_TIMEZONE") or "Europe/Paris")


def _clear_widgets() -> None:
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.startswith(_WIDGETS):
            del st.session_state[key]


def open_draft(state: dict[str, Any], notice: str | None = None) -> None:
    """Make `state` the tab's open draft (its widgets start from it)."""
    _clear_widgets()
    st.session_state[DRAFT] = state
    st.session_state[PROBLEMS] = {}
    st.session_state[NOTICE] = notice
    st.session_state.pop(RESULT, None)


def close_draft() -> None:
    _clear_widgets()
    for key in (DRAFT, PROBLEMS, NOTICE, SAVE_ERROR):
        st.session_state.pop(key, None)


def save() -> None:
    """Autosave the draft; a failure is shown but the typed values stay in the tab."""
    state = st.session_state.get(DRAFT)
    actor = session.current_actor()
    if state is None or actor is None:
        return
    try:
        evaluations.autosave(session.store(), actor, state)
    except QAError as error:
        st.session_state[SAVE_ERROR] = str(error)
        return
    st.session_state[SAVE_ERROR] = None
    st.session_state[SAVED_AT] = datetime.now(local_tz()).strftime("%H:%M:%S")


def _forget_problem(key: str) -> None:
    st.session_state.get(PROBLEMS, {}).pop(key, None)


def changed(part: str, field_id: str, widget_key: str, kind: str = "value") -> None:
    """Copy one widget's new value into the draft and save it."""
    state = st.session_state.get(DRAFT)
    if state is None:
        return
    st.session_state[NOTICE] = None
    value = st.session_state.get(widget_key)
    if kind == "datetime" and isinstance(value, datetime):
        value = value.replace(tzinfo=local_tz()).isoformat(timespec="minutes")
    elif kind == "date" and isinstance(value, date):
        value = value.isoformat()
    elif kind == "number" and isinstance(value, float) and value.is_integer():
        value = int(value)
    if part == "employee_id":
        state["employee_id"] = value
        _forget_problem(EMPLOYEE)
    else:
        bucket = state.setdefault(part, {})
        if value is None or (isinstance(value, str) and not value.strip()):
            bucket.pop(field_id, None)
        else:
            bucket[field_id] = value
        _forget_problem({"context": context_key(field_id), "debrief": question_key(field_id)}.get(part, field_id))
    save()


def stamp(field_id: str, clear: bool = False) -> None:
    """The "arrived" / "greeted" buttons: the time is measured, not remembered."""
    state = st.session_state.get(DRAFT)
    if state is None:
        return
    if clear:
        state["context"].pop(field_id, None)
    else:
        state["context"][field_id] = datetime.now(local_tz()).isoformat(timespec="seconds")
    _forget_problem(context_key(field_id))
    save()


def go(step: int) -> None:
    state = st.session_state.get(DRAFT)
    if state is None:
        return
    st.session_state[SCROLL_UP] = True
    st.session_state[NOTICE] = None
    state["step"] = step
    st.session_state["step_nav"] = step
    save()


def step_picked() -> None:
    go(int(st.session_state["step_nav"]))


def init(widget_key: str, value: Any) -> None:
    """Give a widget its value from the draft when it is drawn again (never overriding a live one)."""
    if widget_key not in st.session_state:
        st.session_state[widget_key] = value


def problem(key: str, t) -> None:
    """The problem of a refused submission, shown next to its field."""
    code = st.session_state.get(PROBLEMS, {}).get(key)
    if code:
        st.error(t(f"ui.problem.{code}"), icon=":material/error:")
