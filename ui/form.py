"""The evaluation form for a tablet: one step per section, a running score, validation on submit.

Every change goes through `ui.draft` (the tab's draft, autosaved); `ui.fields` draws the context
fields, the employee, photos and the call's recording.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from qa import evaluations
from qa.errors import QAError
from qa.evaluation_checks import question_key, running_score, step_of, step_progress, steps
from qa.scorecard_model import NA, Criterion, Points, Rating, Scorecard, YesNo, YesNoNA
from qa.scorecards import LoadedScorecard
from ui import fields, session
from ui.draft import (
    DRAFT,
    NOTICE,
    PROBLEMS,
    RESULT,
    SAVE_ERROR,
    SCROLL_TOP,
    SCROLL_UP,
    bound,
    changed,
    close_draft,
    go,
    index_of,
    problem,
    sync,
    widget_key,
)
from ui.textbox import text_box


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


def _criterion(criterion: Criterion, number: int, state: dict[str, Any], lang: str, t) -> None:
    key = widget_key(f"ans_{criterion.id}")
    options = answer_options(criterion)
    with st.container(border=True):
        st.radio(
            f"{number}. {criterion.label.get(lang)}",
            options,
            index=index_of(options, state["answers"].get(criterion.id)),
            format_func=_answer_label(criterion, lang, t),
            horizontal=True,
            key=key,
            on_change=changed,
            args=("answers", criterion.id, key),
        )
        bound("answers", criterion.id, key)
        if criterion.critical:
            st.caption(t("ui.form.critical"))
        with st.expander(t("ui.form.guidance")):
            st.markdown(criterion.guidance.get(lang))
        problem(criterion.id, t)
        comment_key = f"cm_{criterion.id}"
        text_box(
            t("ui.form.comment_label", n=number),
            value=state["comments"].get(criterion.id, ""),
            key=comment_key,
            on_change=changed,
            args=("comments", criterion.id, comment_key, "text"),
            max_chars=evaluations.MAX_COMMENT,
            placeholder=t("ui.form.comment_placeholder"),
            rows=2,
            hide_label=True,
        )
        bound("comments", criterion.id, comment_key, "text")


def _submit() -> None:
    state, actor = st.session_state.get(DRAFT), session.current_actor()
    if state is None or actor is None:  # a second tap after the first one went through
        return
    sync()
    try:
        loaded = session.scorecard(state["scorecard_id"])
        evaluation = evaluations.submit(session.store(), actor, loaded, state)
    except evaluations.IncompleteEvaluation as error:
        st.session_state[PROBLEMS] = dict(error.codes)
        go(min(step_of(loaded.card, key) for key in error.codes))
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
        # Buttons, not a radio: their labels carry each step's progress mark and may change
        # freely (a radio identifies its value by its label text).
        current = int(state.get("step", 0))
        with st.container(horizontal=True, key="step_bar", gap="small"):
            for index, label in enumerate(labels):
                st.button(
                    label,
                    key=f"goto_{index}",
                    on_click=go,
                    args=(index,),
                    type="primary" if index == current else "secondary",
                )


def render(page: session.Page, loaded: LoadedScorecard, state: dict[str, Any]) -> None:
    """Draw the open draft at its current step."""
    # Messages that come and go live in containers that are always drawn: an element appearing
    # or disappearing above the widgets would shift them, and a tap made during that rerun
    # could be lost in the browser.
    t, card, lang = page.t, loaded.card, page.lang
    sync()
    st.subheader(card.title.get(lang))
    with st.container():
        fields.recording(page, state)
    with st.container():
        if st.session_state.get(NOTICE):
            st.info(st.session_state[NOTICE], icon=":material/restore:")
    _header(page, loaded, state)
    with st.container():
        if st.session_state.get(SAVE_ERROR):
            st.error(st.session_state[SAVE_ERROR])
    names = steps(card)
    index = min(max(int(state.get("step", 0)), 0), len(names) - 1)
    name = names[index]
    if name == "context":
        st.markdown(f"### {t('ui.step.context')}")
        fields.employee(page, state)
        for field in card.context:
            fields.context_field(card, field, state, lang, t)
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
            label = question.label.get(lang) + (" *" if question.required else "")
            text_box(
                label,
                value=state["debrief"].get(question.id, ""),
                key=key,
                on_change=changed,
                args=("debrief", question.id, key, "text"),
                max_chars=5000,
            )
            bound("debrief", question.id, key, "text")
            problem(question_key(question.id), t)
        if state["channel"] == "face_to_face":
            fields.photos(page, state)
    else:
        _send_step(page, loaded, state)
    _footer(t, index, len(names))
    if st.session_state.pop(SCROLL_UP, False):  # last, so that nothing moves when it goes
        st.html(SCROLL_TOP, unsafe_allow_javascript=True)


def _send_step(page: session.Page, loaded: LoadedScorecard, state: dict[str, Any]) -> None:
    t = page.t
    st.markdown(f"### {t('ui.step.send')}")
    remaining = evaluations.draft_problems(page.store, page.actor, loaded, state)
    if remaining:
        st.warning(t("ui.form.remaining", n=len(remaining)))
        labels = step_labels(loaded.card, page.lang, t, state)
        for step in sorted({step_of(loaded.card, key) for key in remaining}):
            count = sum(step_of(loaded.card, key) == step for key in remaining)
            st.button(t("ui.form.go_fix", step=labels[step], n=count), key=f"fix_{step}", on_click=go, args=(step,))
    else:
        st.success(t("ui.form.ready"))
    st.button(t("ui.form.submit"), key="submit", type="primary", on_click=_submit, width="stretch")
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
            on_click=go,
            args=(index - 1,),
            width="stretch",
            icon=":material/arrow_back:",
        )
    if index < count - 1:
        right.button(
            t("ui.form.next"),
            key="step_next",
            on_click=go,
            args=(index + 1,),
            width="stretch",
            type="primary",
            icon=":material/arrow_forward:",
        )
