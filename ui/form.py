"""The evaluation form for a tablet: one step per section, every change autosaved as a draft.

The canonical form state is one dict, the draft (`st.session_state[DRAFT]`), written by the
widgets' `on_change` callbacks and saved in the store on each change. Widgets are initialised from
it, so moving freely between steps (a widget that is not drawn loses its own state) and resuming
after a reload or a server restart both work.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st

from qa import evaluations
from qa.errors import QAError
from qa.evaluation_checks import (
    EMPLOYEE,
    context_key,
    measured_duration,
    parse_moment,
    question_key,
    running_score,
    step_of,
    step_progress,
    steps,
)
from qa.photos import add_photo, draft_photo, remove_photo
from qa.scorecard_model import NA, Criterion, Points, Rating, Scorecard, YesNo, YesNoNA
from qa.scorecards import LoadedScorecard
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
_SCROLL_TOP = "<script>document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0);</script>"
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


def _save() -> None:
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


def _changed(part: str, field_id: str, widget_key: str, kind: str = "value") -> None:
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
    _save()


def _stamp(field_id: str, clear: bool = False) -> None:
    """The "arrived" / "greeted" buttons: the time is measured, not remembered."""
    state = st.session_state.get(DRAFT)
    if state is None:
        return
    if clear:
        state["context"].pop(field_id, None)
    else:
        state["context"][field_id] = datetime.now(local_tz()).isoformat(timespec="seconds")
    _forget_problem(context_key(field_id))
    _save()


def _go(step: int) -> None:
    state = st.session_state.get(DRAFT)
    if state is None:
        return
    st.session_state[SCROLL_UP] = True
    st.session_state[NOTICE] = None
    state["step"] = step
    st.session_state["step_nav"] = step
    _save()


def _step_picked() -> None:
    _go(int(st.session_state["step_nav"]))


def _init(widget_key: str, value: Any) -> None:
    """Give a widget its value from the draft when it is drawn again (never overriding a live one)."""
    if widget_key not in st.session_state:
        st.session_state[widget_key] = value


def answer_options(criterion: Criterion) -> list[Any]:
    scale = criterion.scale
    if isinstance(scale, YesNo | YesNoNA):
        options: list[Any] = ["yes", "no"]
    elif isinstance(scale, Rating):
        options = list(range(scale.min, scale.max + 1))
    else:
        assert isinstance(scale, Points)
        options = list(range(0, scale.max + 1))
    return [*options, NA] if criterion.allows_na else options


def _answer_label(criterion: Criterion, lang: str, t) -> Any:
    labels = {}
    if isinstance(criterion.scale, Rating):
        labels = {level.value: level.label.get(lang) for level in criterion.scale.labels}

    def label(value: Any) -> str:
        if value in ("yes", "no", NA):
            return t(f"answer.{value}")
        if isinstance(criterion.scale, Points):
            return t("ui.form.points", n=value, max=criterion.scale.max)
        return f"{value} · {labels[value]}" if value in labels else str(value)

    return label


def _problem(key: str, t) -> None:
    code = st.session_state.get(PROBLEMS, {}).get(key)
    if code:
        st.error(t(f"ui.problem.{code}"), icon=":material/error:")


def _criterion(criterion: Criterion, number: int, state: dict[str, Any], lang: str, t) -> None:
    key = f"ans_{criterion.id}"
    _init(key, state["answers"].get(criterion.id))
    with st.container(border=True):
        st.radio(
            f"{number}. {criterion.label.get(lang)}",
            answer_options(criterion),
            format_func=_answer_label(criterion, lang, t),
            horizontal=True,
            key=key,
            on_change=_changed,
            args=("answers", criterion.id, key),
        )
        if criterion.critical:
            st.caption(t("ui.form.critical"))
        with st.expander(t("ui.form.guidance")):
            st.markdown(criterion.guidance.get(lang))
        _problem(criterion.id, t)
        comment_key = f"cm_{criterion.id}"
        _init(comment_key, state["comments"].get(criterion.id, ""))
        st.text_input(
            t("ui.form.comment"),
            key=comment_key,
            on_change=_changed,
            args=("comments", criterion.id, comment_key),
            max_chars=evaluations.MAX_COMMENT,
            placeholder=t("ui.form.comment_placeholder"),
            label_visibility="collapsed",
        )


def _local(value: Any) -> datetime | None:
    moment = parse_moment(value)
    return moment.astimezone(local_tz()) if moment else None


def _context_field(card: Scorecard, field, state: dict[str, Any], lang: str, t) -> None:
    key = f"ctx_{field.id}"
    label = field.label.get(lang) + (" *" if field.required else "")
    value = state["context"].get(field.id)
    help_text = field.help.get(lang) if field.help else None
    args = ("context", field.id, key)
    if field.type == "text":
        _init(key, value or "")
        st.text_input(label, key=key, on_change=_changed, args=args, max_chars=500)
    elif field.type == "number" or (field.type == "duration" and field.measured_from is None):
        _init(key, value)
        unit = f" ({t('ui.unit.' + field.unit)})" if field.unit else ""
        st.number_input(label + unit, key=key, min_value=0, step=1, on_change=_changed, args=(*args, "number"))
    elif field.type == "choice":
        _init(key, value)
        labels = {c.id: c.label.get(lang) for c in field.choices or []}
        st.radio(label, list(labels), format_func=labels.get, horizontal=True, key=key, on_change=_changed, args=args)
    elif field.type == "date":
        _init(key, date.fromisoformat(value) if value else None)
        st.date_input(label, key=key, on_change=_changed, args=(*args, "date"), format="DD/MM/YYYY")
    elif field.type == "datetime":
        moment = _local(value)
        _init(key, moment.replace(tzinfo=None) if moment else None)
        st.datetime_input(
            label, key=key, on_change=_changed, args=(*args, "datetime"), format="DD/MM/YYYY", step=timedelta(minutes=1)
        )
    elif field.type == "timestamp":
        moment = _local(value)
        st.markdown(f"**{label}** : {moment.strftime('%H:%M:%S') if moment else '—'}")
        left, right = st.columns([3, 2])
        left.button(
            t("ui.form.stamp"),
            key=f"stamp_{field.id}",
            on_click=_stamp,
            args=(field.id,),
            icon=":material/timer:",
            type="primary",
            use_container_width=True,
        )
        if moment:
            right.button(
                t("ui.form.unstamp"),
                key=f"unstamp_{field.id}",
                on_click=_stamp,
                args=(field.id, True),
                use_container_width=True,
            )
    elif field.type == "duration":
        measured = measured_duration(card, field, state["context"])
        shown = t("ui.form.measured_pending") if measured is None else f"{measured:g} {t('ui.unit.' + field.unit)}"
        st.markdown(f"**{label}** : {shown}")
    elif field.type == "interaction":
        st.markdown(f"**{label}** : `{value or '—'}`")
    if help_text:
        st.caption(help_text)
    _problem(context_key(field.id), t)


def _employee(page: session.Page, state: dict[str, Any]) -> None:
    t = page.t
    if state.get("interaction_id"):
        employee = evaluations.employee_of(page.store, page.actor, state)
        st.markdown(f"**{t('ui.form.employee')}** : {employee.display_name if employee else state.get('employee_id')}")
        return
    employees = {e.id: e for e in evaluations.visit_employees(page.store, page.actor)}
    _init("employee", state.get("employee_id") if state.get("employee_id") in employees else None)

    def label(employee_id: str) -> str:
        e = employees[employee_id]
        return " · ".join(part for part in (e.display_name, e.site, e.team) if part)

    st.selectbox(
        t("ui.form.employee") + " *",
        list(employees),
        format_func=label,
        index=None,
        key="employee",
        placeholder=t("ui.form.employee_placeholder"),
        on_change=_changed,
        args=("employee_id", "", "employee"),
    )
    if not employees:
        st.warning(t("ui.form.no_employees"))
    _problem(EMPLOYEE, t)


def _photos(page: session.Page, state: dict[str, Any]) -> None:
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
    st.file_uploader(
        t("ui.form.photo_add"),
        type=["jpg", "jpeg", "png", "webp", "heic"],
        accept_multiple_files=True,
        key=f"photo_upload_{round_}",
        on_change=_uploaded,
        args=(f"photo_upload_{round_}",),
    )


def _uploaded(widget_key: str) -> None:
    state, actor = st.session_state.get(DRAFT), session.current_actor()
    files = st.session_state.get(widget_key) or []
    if state is None or actor is None:
        return
    try:
        for uploaded in files:
            add_photo(session.data_dir(), actor, state, uploaded.getvalue())
    except QAError as error:
        st.session_state[SAVE_ERROR] = str(error)
    st.session_state[UPLOADS] = st.session_state.get(UPLOADS, 0) + 1  # a fresh, empty uploader
    _save()


def _remove_photo(relative: str) -> None:
    state, actor = st.session_state.get(DRAFT), session.current_actor()
    if state is not None and actor is not None:
        remove_photo(session.data_dir(), actor, state, relative)
        _save()


def _submit() -> None:
    state, actor = st.session_state.get(DRAFT), session.current_actor()
    if state is None or actor is None:  # a second tap after the first one went through
        return
    try:
        loaded = session.scorecard(state["scorecard_id"])
        evaluation = evaluations.submit(session.store(), actor, loaded, state)
    except evaluations.IncompleteEvaluation as error:
        st.session_state[PROBLEMS] = dict(error.codes)
        _go(min(step_of(loaded.card, key) for key in error.codes))
        return
    except QAError as error:
        st.session_state[SAVE_ERROR] = str(error)
        return
    close_draft()
    st.session_state[RESULT] = {"id": evaluation.id, "score": dict(evaluation.score), "scorecard": loaded.id}


def step_labels(card: Scorecard, lang: str, t, state: dict[str, Any]) -> list[str]:
    names = steps(card)
    progress = step_progress(card, state)
    flagged = {step_of(card, key) for key in st.session_state.get(PROBLEMS, {})}
    out = []
    for index, name in enumerate(names):
        title = card.sections[index - 1].label.get(lang) if name.startswith("section.") else t(f"ui.step.{name}")
        done, total = progress[index]
        mark = (
            " :material/error:" if index in flagged else (" :material/check_circle:" if total and done == total else "")
        )
        out.append(f"{index + 1}. {title}{mark}")
    return out


def _header(page: session.Page, loaded: LoadedScorecard, state: dict[str, Any]) -> None:
    t, card = page.t, loaded.card
    labels = step_labels(card, page.lang, t, state)
    answered = sum(v is not None for v in state["answers"].values())
    total = len(card.criteria())
    result = running_score(card, state["answers"])
    with st.container(key="form_header"):
        st.progress(answered / total, text=t("ui.form.progress", answered=answered, total=total))
        if result.overall is None:
            st.caption(t("ui.form.score_pending"))
        else:
            band = card.band_for(result.overall).label.get(page.lang)
            text = t("ui.form.running_score", score=f"{result.overall:.0f}", band=band)
            if result.critical_failed:
                text += " · " + t("ui.form.critical_failed")
            st.markdown(f"**{text}**")
        _init("step_nav", state.get("step", 0))
        st.radio(
            t("ui.form.steps"),
            list(range(len(labels))),
            format_func=labels.__getitem__,
            horizontal=True,
            key="step_nav",
            on_change=_step_picked,
            label_visibility="collapsed",
        )


def _recording(page: session.Page, state: dict[str, Any]) -> None:
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


def render(page: session.Page, loaded: LoadedScorecard, state: dict[str, Any]) -> None:
    """Draw the open draft at its current step."""
    t, card, lang = page.t, loaded.card, page.lang
    st.subheader(card.title.get(lang))
    _recording(page, state)
    if st.session_state.get(NOTICE):
        st.info(st.session_state[NOTICE], icon=":material/restore:")
    _header(page, loaded, state)
    if st.session_state.pop(SCROLL_UP, False):
        st.html(_SCROLL_TOP, unsafe_allow_javascript=True)
    if st.session_state.get(SAVE_ERROR):
        st.error(st.session_state[SAVE_ERROR])
    names = steps(card)
    index = min(max(int(state.get("step", 0)), 0), len(names) - 1)
    name = names[index]
    if name == "context":
        st.markdown(f"### {t('ui.step.context')}")
        _employee(page, state)
        for field in card.context:
            _context_field(card, field, state, lang, t)
    elif name.startswith("section."):
        section = card.sections[index - 1]
        st.markdown(f"### {section.label.get(lang)}")
        first = sum(len(s.criteria) for s in card.sections[: index - 1])
        for n, criterion in enumerate(section.criteria, start=first + 1):
            _criterion(criterion, n, state, lang, t)
    elif name == "debrief":
        st.markdown(f"### {t('ui.step.debrief')}")
        for question in card.questions:
            key = f"dq_{question.id}"
            _init(key, state["debrief"].get(question.id, ""))
            label = question.label.get(lang) + (" *" if question.required else "")
            st.text_area(label, key=key, on_change=_changed, args=("debrief", question.id, key), max_chars=5000)
            _problem(question_key(question.id), t)
        if state["channel"] == "face_to_face":
            _photos(page, state)
    else:
        _send_step(page, loaded, state)
    _footer(t, index, len(names))


def _send_step(page: session.Page, loaded: LoadedScorecard, state: dict[str, Any]) -> None:
    t = page.t
    st.markdown(f"### {t('ui.step.send')}")
    remaining = evaluations.draft_problems(page.store, page.actor, loaded, state)
    if remaining:
        st.warning(t("ui.form.remaining", n=len(remaining)))
        labels = step_labels(loaded.card, page.lang, t, state)
        for step in sorted({step_of(loaded.card, key) for key in remaining}):
            count = sum(step_of(loaded.card, key) == step for key in remaining)
            st.button(t("ui.form.go_fix", step=labels[step], n=count), key=f"fix_{step}", on_click=_go, args=(step,))
    else:
        st.success(t("ui.form.ready"))
    st.button(t("ui.form.submit"), key="submit", type="primary", on_click=_submit, use_container_width=True)
    with st.expander(t("ui.form.discard_title")):
        st.caption(t("ui.form.discard_help"))
        st.button(t("ui.form.discard"), key="discard", on_click=_discard)


def _discard() -> None:
    state, actor = st.session_state.get(DRAFT), session.current_actor()
    if state is not None and actor is not None:
        evaluations.discard(session.store(), actor, state["key"])
    close_draft()


def _footer(t, index: int, count: int) -> None:
    left, right = st.columns(2)
    if index > 0:
        left.button(
            t("ui.form.previous"),
            key="step_prev",
            on_click=_go,
            args=(index - 1,),
            use_container_width=True,
            icon=":material/arrow_back:",
        )
    if index < count - 1:
        right.button(
            t("ui.form.next"),
            key="step_next",
            on_click=_go,
            args=(index + 1,),
            use_container_width=True,
            type="primary",
            icon=":material/arrow_forward:",
        )
