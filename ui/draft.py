"""The open draft of a browser tab: its state dict, the callbacks that change it, autosave.

The canonical form state is one dict, the draft (`st.session_state[DRAFT]`), written by the
widgets' `on_change` callbacks and saved in the store on every change. Widgets are initialised
from it (their `index`/`value` parameters), so moving freely between steps (a widget that is not drawn loses its own state)
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
from ui.textbox import value_of

DRAFT = "draft"  # the open draft's state
PROBLEMS = "draft_problems"  # problem codes of the last refused submission
RESULT = "last_submitted"  # the evaluation just submitted (id, score, band)
NOTICE = "draft_notice"
SAVE_ERROR = "save_error"
SAVED_AT = "saved_at"
UPLOADS = "upload_round"
PHOTOS_DONE = "photos_done"  # ids of the uploads already kept with the draft
SCROLL_UP = "scroll_up"
BINDINGS = "draft_bindings"  # widget key -> (part, field id, kind) of the widgets drawn
# A constant script (no user text): a new step starts at the top of the page, not where the
# "Next" button was tapped.
SCROLL_TOP = "<script>document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0);</script>"
TEXT_LIMIT = 5000  # characters kept of a text box's value (the longest field, a debrief answer)
_WIDGETS = ("ans_", "ctx_", "ctxt_", "dq_", "cm_", "employee", "photo_upload")


def local_tz() -> ZoneInfo:
    return ZoneInfo(os.environ.get("QA_TIMEZONE") or "Europe/Paris")


def _clear_widgets() -> None:
    st.session_state.pop(BINDINGS, None)
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


def _widget_value(widget_key: str, kind: str) -> Any:
    value = st.session_state.get(widget_key)
    if kind == "text":  # a ui.textbox box: its state is a mapping holding the text
        value = value_of(value)
        # The browser's maxlength is only a courtesy: a crafted message could send megabytes,
        # which would be saved with every autosave. Submit cuts each text to its own limit.
        value = value[:TEXT_LIMIT] if isinstance(value, str) else None
    if kind == "datetime" and isinstance(value, datetime):
        return value.replace(tzinfo=local_tz()).isoformat(timespec="minutes")
    if kind == "date" and isinstance(value, date):
        return value.isoformat()
    if kind == "number" and isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def bound(part: str, field_id: str, widget_key: str, kind: str = "value") -> None:
    """Remember which draft field a widget edits, then take its value (see `sync`)."""
    st.session_state.setdefault(BINDINGS, {})[widget_key] = (part, field_id, kind)
    changed(part, field_id, widget_key, kind)


def sync() -> None:
    """Take every bound widget's current value into the draft.

    Streamlit skips some `on_change` callbacks when taps arrive while a rerun is still running
    (a fast tap then "Next"); the widgets' values are right, only the callback is missing. So
    the form syncs at the start of every run and before changing step or submitting.
    """
    for key, (part, field_id, kind) in list(st.session_state.get(BINDINGS, {}).items()):
        changed(part, field_id, key, kind)


def changed(part: str, field_id: str, widget_key: str, kind: str = "value") -> None:
    """Copy one widget's value into the draft and save it, if it differs from the draft.

    The widgets' `on_change` callback; `sync` and `bound` call it too (a no-op when unchanged).
    """
    state = st.session_state.get(DRAFT)
    if state is None or widget_key not in st.session_state:
        return
    value = _widget_value(widget_key, kind)
    if part == "employee_id":
        if state.get("employee_id") == value:
            return
        state["employee_id"] = value
        _forget_problem(EMPLOYEE)
    else:
        bucket = state.setdefault(part, {})
        if bucket.get(field_id) == value:
            return
        if value is None:
            bucket.pop(field_id, None)
        else:
            bucket[field_id] = value
        _forget_problem({"context": context_key(field_id), "debrief": question_key(field_id)}.get(part, field_id))
    st.session_state[NOTICE] = None
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
    sync()
    st.session_state[SCROLL_UP] = True
    st.session_state[NOTICE] = None
    state["step"] = step
    save()


def widget_key(base: str) -> str:
    """The key of a widget whose option labels depend on the language.

    A radio identifies its value by its label text: after a language switch the browser would
    send back a label the new options do not have. A key per language makes a new widget,
    initialised from the draft.
    """
    language = session.lang()
    return base if language == session.DEFAULT_LANGUAGE else f"{base}.{language}"


def index_of(options: list[Any], value: Any) -> int | None:
    """A widget's starting position from the draft's value (None: nothing chosen yet).

    Widgets start from the draft through their `index`/`value` parameters, never by writing
    their key in `st.session_state`: a value written there is pushed to the browser and can
    overwrite a tap made while the page was still being drawn.
    """
    return options.index(value) if value in options else None


def problem(key: str, t) -> None:
    """The problem of a refused submission, shown next to its field (in a container always drawn)."""
    code = st.session_state.get(PROBLEMS, {}).get(key)
    with st.container():
        if code:
            st.error(t(f"ui.problem.{code}"), icon=":material/error:")
