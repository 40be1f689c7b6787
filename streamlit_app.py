"""Qualiterrain's field app: sign-in first, then the pages the signed-in user's role may open."""

from __future__ import annotations

import importlib
import sys
import threading
from pathlib import Path

import streamlit as st

from ui import session

HERE = Path(__file__).resolve().parent

# (page file, title message, icon, permission). A page is listed only when its file exists.
PAGES = (
    ("pages/evaluate.py", "ui.nav.evaluate", ":material/edit_note:", "evaluate"),
    ("pages/queue.py", "ui.nav.queue", ":material/inbox:", "evaluate"),
    ("pages/my_evaluations.py", "ui.nav.mine", ":material/history:", "view_own"),
    ("pages/review.py", "ui.nav.review", ":material/fact_check:", "review"),
    ("pages/sampling.py", "ui.nav.sampling", ":material/casino:", "sample"),
    ("pages/dashboard.py", "ui.nav.dashboard", ":material/monitoring:", "dashboard"),
    ("pages/calibration.py", "ui.nav.calibration", ":material/balance:", "calibrate"),
    ("pages/scorecards.py", "ui.nav.scorecards", ":material/checklist:", "scorecards"),
    ("pages/publish.py", "ui.nav.publish", ":material/publish:", "publish"),
    ("pages/users.py", "ui.nav.users", ":material/group:", "manage_users"),
)


def pages_for(actor, t) -> list:
    """The pages `actor` may open (every page when nobody is signed in: listed hidden, never run)."""
    return [
        st.Page(path, title=t(title), icon=icon, default=path == "pages/evaluate.py")
        for path, title, icon, permission in PAGES
        if (HERE / path).is_file() and (actor is None or actor.can(permission))
    ]


def warm_up_dashboard() -> None:
    """Import what the dashboard needs (pandas, scipy.stats via qa.stats: ~1.3 s of CPU) in the
    background, once per server, while the sign-in form waits for its user (and after a QA
    lead's page is drawn, for a session already signed in): its first open then pays only for
    its data (bench/dashboard.py)."""
    if "qa.dashboard" not in sys.modules:  # in there from the start of its import
        threading.Thread(target=importlib.import_module, args=("qa.dashboard",), name="warm-up", daemon=True).start()


st.set_page_config(
    page_title="Qualiterrain", page_icon=":material/fact_check:", layout="centered", initial_sidebar_state="collapsed"
)
actor = session.current_actor()
t = session.tr()
if actor is None:
    # Every page is registered, hidden, so that the address asked for survives the sign-in;
    # nothing of any page runs before it.
    st.navigation(pages_for(None, t), position="hidden")
    session.sign_in_screen()
    warm_up_dashboard()
    st.stop()
st.navigation(pages_for(actor, t), position="top").run()
if actor.can("dashboard"):
    warm_up_dashboard()
