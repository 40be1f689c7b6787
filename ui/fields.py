"""The form's context fields (with the time-stamp buttons), the evaluated employee, photos and recording."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import streamlit as st

from qa import evaluations
from qa.errors import QAError
from qa.evaluation_checks import EMPLOYEE, context_key, measured_duration, parse_moment
from qa.photos import add_photo, draft_photo, remove_photo
from qa.scorecard_model import Scorecard
from ui import session
from ui.draft import (
    DRAFT,
    PHOTOS_DONE,
    SAVE_ERROR,
    UPLOADS,
    bound,
    changed,
    index_of,
    local_tz,
    problem,
    save,
    stamp,
    widget_key,
)
from ui.textbox import text_box


def _local(value: Any) -> datetime | None:
    moment = parse_moment(value)
    return moment.astimezone(local_tz()) if moment else None


def context_field(card: Scorecard, field, state: dict[str, Any], lang: str, t) -> None:
    key = f"ctx_{field.id}"
    label = field.label.get(lang) + (" *" if field.required else "")
    value = state["context"].get(field.id)
    help_text = field.help.get(lang) if field.help else None
    args = ("context", field.id, key)
    if field.type == "text":
        key = f"ctxt_{field.id}"  # its own prefix: ui/style.py keeps a text box's place
        args = ("context", field.id, key)
        text_box(label, value=value or "", key=key, on_change=changed, args=(*args, "text"), max_chars=500, rows=1)
        bound(*args, "text")
    elif field.type == "number" or (field.type == "duration" and field.measured_from is None):
        unit = f" ({t('ui.unit.' + field.unit)})" if field.unit else ""
        st.number_input(
            label + unit, value=value, key=key, min_value=0, step=1, on_change=changed, args=(*args, "number")
        )
        bound(*args, "number")
    elif field.type == "choice":
        key = widget_key(key)
        args = ("context", field.id, key)
        labels = {c.id: c.label.get(lang) for c in field.choices or []}
        st.radio(
            label,
            list(labels),
            index=index_of(list(labels), value),
            format_func=labels.get,
            horizontal=True,
            key=key,
            on_change=changed,
            args=args,
        )
        bound(*args)
    elif field.type == "date":
        st.date_input(
            label,
            value=date.fromisoformat(value) if value else None,
            key=key,
            on_change=changed,
            args=(*args, "date"),
            format="DD/MM/YYYY",
        )
        bound(*args, "date")
    elif field.type == "datetime":
        moment = _local(value)
        st.datetime_input(
            label,
            value=moment.replace(tzinfo=None) if moment else None,
            key=key,
            on_change=changed,
            args=(*args, "datetime"),
            format="DD/MM/YYYY",
            step=timedelta(minutes=1),
        )
        bound(*args, "datetime")
    elif field.type == "timestamp":
        moment = _local(value)
        st.markdown(f"**{label}** : {moment.strftime('%H:%M:%S') if moment else '—'}")
        # One button: stamp now, or (once stamped) clear it; a second tap never moves the time.
        if moment is None:
            st.button(
                t("ui.form.stamp"),
                key=f"stamp_{field.id}",
                on_click=stamp,
                args=(field.id,),
                icon=":material/timer:",
                type="primary",
            )
        else:
            st.button(
                t("ui.form.unstamp"),
                key=f"unstamp_{field.id}",
                on_click=stamp,
                args=(field.id, True),
                icon=":material/undo:",
            )
    elif field.type == "duration":
        measured = measured_duration(card, field, state["context"])
        shown = t("ui.form.measured_pending") if measured is None else f"{measured:g} {t('ui.unit.' + field.unit)}"
        st.markdown(f"**{label}** : {shown}")
    elif field.type == "interaction":
        st.markdown(f"**{label}** : `{value or '—'}`")
    if help_text:
        st.caption(help_text)
    problem(context_key(field.id), t)


def employee(page: session.Page, state: dict[str, Any]) -> None:
    t = page.t
    if state.get("interaction_id"):
        employee = evaluations.employee_of(page.store, page.actor, state)
        st.caption(t("ui.form.employee"))
        # A name comes from a roster file: shown as plain text, never interpreted as Markdown.
        st.text(employee.display_name if employee else str(state.get("employee_id")))
        return
    employees = {e.id: e for e in evaluations.visit_employees(page.store, page.actor)}

    def label(employee_id: str) -> str:
        e = employees[employee_id]
        return " · ".join(part for part in (e.display_name, e.site, e.team) if part)

    st.selectbox(
        t("ui.form.employee") + " *",
        list(employees),
        format_func=label,
        index=index_of(list(employees), state.get("employee_id")),
        key="employee",
        placeholder=t("ui.form.employee_placeholder"),
        on_change=changed,
        args=("employee_id", "", "employee"),
    )
    bound("employee_id", "", "employee")
    if not employees:
        st.warning(t("ui.form.no_employees"))
    problem(EMPLOYEE, t)


def photos(page: session.Page, state: dict[str, Any]) -> None:
    t = page.t
    st.subheader(t("ui.form.photos"))
    st.caption(t("ui.form.photos_help"))
    for n, relative in enumerate(list(state.get("photos") or [])):
        left, right = st.columns([3, 1])
        try:
            left.image(str(draft_photo(session.data_dir(), state, relative)), width=240)
        except (QAError, OSError):
            left.caption(relative)
        right.button(t("ui.form.photo_remove"), key=f"photo_rm_{n}", on_click=_remove_photo, args=(relative,))
    round_ = st.session_state.get(UPLOADS, 0)
    done = st.session_state.get(PHOTOS_DONE, set())
    st.file_uploader(
        t("ui.form.photo_add"),
        type=["jpg", "jpeg", "png", "webp", "heic"],
        accept_multiple_files=True,
        key=f"photo_upload_{round_}",
        on_change=_uploaded,
        args=(f"photo_upload_{round_}",),
    )
    pending = [f for f in st.session_state.get(f"photo_upload_{round_}") or [] if f.file_id not in done]
    if pending:  # the callback was skipped (see draft.sync)
        _uploaded(f"photo_upload_{round_}")
        st.rerun()


def _uploaded(widget_key: str) -> None:
    """Keep the uploaded photos with the draft; each upload once, even if this runs twice."""
    state, actor = st.session_state.get(DRAFT), session.current_actor()
    files = st.session_state.get(widget_key) or []
    done = st.session_state.setdefault(PHOTOS_DONE, set())
    if state is None or actor is None:
        return
    try:
        for uploaded in files:
            if uploaded.file_id not in done:
                add_photo(session.data_dir(), actor, state, uploaded.getvalue())
                done.add(uploaded.file_id)
    except QAError as error:
        st.session_state[SAVE_ERROR] = str(error)
    st.session_state[UPLOADS] = st.session_state.get(UPLOADS, 0) + 1  # a fresh, empty uploader
    save()


def _remove_photo(relative: str) -> None:
    state, actor = st.session_state.get(DRAFT), session.current_actor()
    if state is not None and actor is not None:
        remove_photo(session.data_dir(), actor, state, relative)
        save()


def recording(page: session.Page, state: dict[str, Any]) -> None:
    """The call's recording plays in the page (it keeps playing while the steps change below it)."""
    interaction = evaluations.interaction_of(page.store, page.actor, state)
    if interaction is None or not interaction.recording:
        return
    source = interaction.recording
    if not source.startswith(("http://", "https://")):
        root = session.data_dir()
        path = (root / source).resolve()
        if root not in path.parents or not path.is_file():
            st.caption(page.t("ui.form.no_recording"))
            return
        source = str(path)
    st.markdown(f"**{page.t('ui.form.recording')}**")
    st.audio(source)
