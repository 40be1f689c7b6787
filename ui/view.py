"""Read-only views of evaluations: a list row, and the full evaluation with its answers and history.

Everything typed by a person (comments, debrief, context, review comments) is shown with `st.text`
or inside a table cell, never as Markdown or HTML, so that markup typed into a form stays text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from qa import evaluations
from qa.errors import QAError
from qa.models import Evaluation
from qa.photos import evaluation_photo
from qa.scorecard_model import NA, Points, Rating, Scorecard
from ui import session
from ui.draft import local_tz


def when(moment: datetime | None) -> str:
    return moment.astimezone(local_tz()).strftime("%d/%m/%Y %H:%M") if moment else "—"


def score_text(evaluation: Evaluation, card: Scorecard | None, lang: str) -> str:
    overall = evaluation.score.get("overall")
    band = evaluation.score.get("band")
    if card is not None and band:
        band = next((b.label.get(lang) for b in card.bands if b.id == band), band)
    return f"{overall:.0f} % · {band}" if overall is not None else "—"


def table(page: session.Page, items: list[Evaluation]) -> pd.DataFrame:
    """One row per evaluation, for `st.dataframe` (cells are text: nothing is interpreted)."""
    t, lang = page.t, page.lang
    cards = session.scorecards()
    rows = []
    for ev in items:
        loaded = cards.get(ev.scorecard_id)
        card = loaded.card if loaded else None
        rows.append(
            {
                t("ui.view.col.date"): when(ev.started_at),
                t("ui.view.col.employee"): evaluations.employee_name(page.store, page.actor, ev),
                t("ui.view.col.scorecard"): card.title.get(lang) if card else ev.scorecard_id,
                t("ui.view.col.evaluator"): ev.evaluator,
                t("ui.view.col.score"): score_text(ev, card, lang),
                t("ui.view.col.status"): t(f"status.{ev.status}"),
                t("ui.view.col.id"): ev.id,
            }
        )
    return pd.DataFrame(rows)


def _answer_text(card: Scorecard, criterion_id: str, value: Any, t, lang: str) -> str:
    if value in ("yes", "no", NA):
        return t(f"answer.{value}")
    try:
        criterion = card.criterion(criterion_id)
    except KeyError:
        return str(value)
    if isinstance(criterion.scale, Rating):
        labels = {level.value: level.label.get(lang) for level in criterion.scale.labels}
        return f"{value} · {labels[value]}" if value in labels else str(value)
    if isinstance(criterion.scale, Points):
        return t("ui.form.points", n=value, max=criterion.scale.max)
    return str(value)


def show(page: session.Page, evaluation: Evaluation) -> None:
    """The whole evaluation: score, context, answers by section, debrief, photos and history."""
    t, lang = page.t, page.lang
    card = evaluations.scorecard_of(page.store, page.actor, evaluation)
    title = card.title.get(lang) if card else evaluation.scorecard_id
    st.subheader(title)
    st.text(
        t(
            "ui.view.summary",
            employee=evaluations.employee_name(page.store, page.actor, evaluation),
            evaluator=evaluation.evaluator,
            date=when(evaluation.started_at),
        )
    )
    left, right = st.columns(2)
    left.metric(t("ui.view.score"), score_text(evaluation, card, lang))
    right.metric(t("ui.view.status"), t(f"status.{evaluation.status}"))
    if evaluation.score.get("critical_failed"):
        st.warning(t("ui.evaluate.critical_failed"))
    if evaluation.visit:
        with st.expander(t("ui.step.context")):
            labels = {f.id: f.label.get(lang) for f in card.context} if card else {}
            rows = [
                {t("ui.view.col.field"): labels.get(k, k), t("ui.view.col.value"): str(v)}
                for k, v in evaluation.visit.items()
            ]
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if card is not None:
        for section in card.sections:
            with st.expander(section.label.get(lang)):
                rows = [
                    {
                        t("ui.view.col.criterion"): c.label.get(lang),
                        t("ui.view.col.answer"): _answer_text(card, c.id, evaluation.answers.get(c.id), t, lang),
                    }
                    for c in section.criteria
                ]
                st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
                for c in section.criteria:
                    if evaluation.comments.get(c.id):
                        st.caption(t("ui.view.comment_on", criterion=c.label.get(lang)))
                        st.text(evaluation.comments[c.id])
    if evaluation.debrief:
        st.markdown(f"**{t('ui.step.debrief')}**")
        questions = {q.id: q.label.get(lang) for q in card.questions} if card else {}
        for key, text in evaluation.debrief.items():
            st.caption(questions.get(key, key))
            st.text(text)
    _photos(page, evaluation)
    _history(page, evaluation)


def _photos(page: session.Page, evaluation: Evaluation) -> None:
    if not evaluation.photos:
        return
    st.markdown(f"**{page.t('ui.form.photos')}**")
    columns = st.columns(3)
    for n, relative in enumerate(evaluation.photos):
        try:
            path = evaluation_photo(session.data_dir(), page.store, page.actor, evaluation.id, relative)
            columns[n % 3].image(str(path))
        except (QAError, OSError):
            columns[n % 3].caption(page.t("ui.view.photo_missing"))


def _history(page: session.Page, evaluation: Evaluation) -> None:
    t = page.t
    entries = evaluations.history(page.store, page.actor, evaluation.id)
    with st.expander(t("ui.view.history")):
        for entry in entries:
            try:
                action = t(f"ui.view.action.{entry.action}")
            except KeyError:  # an action of another area (disputes...): its own name
                action = entry.action
            st.text(t("ui.view.history_line", when=when(entry.at), who=entry.by, action=action))
            comment = entry.details.get("comment")
            if comment:
                st.text(f"  « {comment} »")
