"""Grilles: every scorecard, read-only, with its validation status, version and criteria."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from qa.scorecard_model import Criterion, Points, Rating, YesNo
from ui import session

page = session.guard("scorecards")
t, lang = page.t, page.lang


def scale_text(criterion: Criterion) -> str:
    scale = criterion.scale
    if isinstance(scale, Rating):
        return t("ui.cards.scale_rating", low=scale.min, high=scale.max)
    if isinstance(scale, Points):
        return t("ui.cards.scale_points", max=scale.max)
    return t("ui.cards.scale_yes_no") if isinstance(scale, YesNo) else t("ui.cards.scale_yes_no_na")


st.header(t("ui.cards.title"))
st.caption(t("ui.cards.intro", folder=str(session.scorecards_dir())))
for name, loaded, problems in session.scorecard_statuses():
    with st.container(border=True):
        if loaded is None:
            st.markdown(f"**{name}**")
            st.error(t("ui.cards.invalid", n=len(problems)), icon=":material/error:")
            st.code("\n".join(problems), language=None)
            continue
        card = loaded.card
        st.markdown(f"**{card.title.get(lang)}**")
        st.success(t("ui.cards.valid", id=card.id, version=loaded.version), icon=":material/check_circle:")
        st.caption(
            t(
                "ui.cards.facts",
                criteria=len(card.criteria()),
                sections=len(card.sections),
                channels=", ".join(t(f"channel.{c}") for c in card.channels),
            )
        )
        with st.expander(t("ui.cards.details")):
            st.markdown(card.description.get(lang))
            for section in card.sections:
                st.markdown(f"**{section.label.get(lang)}**")
                rows = [
                    {
                        t("ui.view.col.criterion"): c.label.get(lang),
                        t("ui.cards.col.scale"): scale_text(c),
                        t("ui.cards.col.weight"): f"{c.weight:g}",
                        t("ui.cards.col.critical"): t("answer.yes") if c.critical else "",
                        t("ui.cards.col.na"): t("answer.yes") if c.allows_na else "",
                        t("ui.cards.col.guidance"): c.guidance.get(lang),
                    }
                    for c in section.criteria
                ]
                st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
