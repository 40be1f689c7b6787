"""Publication: build the private coaching site from approved evaluations, with a progress bar."""

from __future__ import annotations

import streamlit as st

from qa.auth import require
from qa.errors import QAError
from sitegen.build import build_site
from ui import session

page = session.guard("publish")
t = page.t

st.header(t("ui.publish.title"))
out = session.site_dir()
st.markdown(t("ui.publish.intro"))
st.caption(t("ui.publish.where", folder=str(out)))
full = st.toggle(t("ui.publish.full"), key="publish_full", help=t("ui.publish.full_help"))
if st.button(t("ui.publish.build"), key="publish_build", type="primary", icon=":material/publish:"):
    bar = st.progress(0.0, text=t("ui.publish.starting"))

    def progress(done: int, total: int, what: str) -> None:
        bar.progress(min(1.0, done / total) if total else 1.0, text=t("ui.publish.progress", done=done, total=total))

    try:
        require(page.actor, "publish")
        report = build_site(page.store, out, full=full, progress=progress, scorecards_dir=session.scorecards_dir())
    except QAError as error:
        session.show_error(error)
    else:
        bar.progress(1.0, text=t("ui.publish.done"))
        st.success(
            t(
                "ui.publish.report",
                pages=report.pages,
                written=report.written,
                unchanged=report.unchanged,
                removed=report.removed,
                seconds=f"{report.seconds:.1f}",
            )
        )
        st.caption(t("ui.publish.links"))
