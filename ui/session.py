"""The app's shared handles (store, sessions, sign-in throttle, scorecards), sign-in and the page guard.

Streamlit caching lives here and only here: one store handle per data folder for the whole server
process (`st.cache_resource`), and the scorecards cached by their files' modification times.
`st.session_state` holds, per browser tab, the session token, the language and the open draft.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from qa.auth import Actor, Sessions, SignInError, Throttle, authenticate, still_valid
from qa.errors import NotFound, QAError, ScorecardError
from qa.i18n import DEFAULT_LANGUAGE, LANGUAGES, translator
from qa.scorecards import DEFAULT_DIR, LoadedScorecard, load_all, load_scorecard, scorecard_files

TOKEN = "auth_token"  # noqa: S105 - the session-state key holding the token, not a secret
LANG = "lang"
EXPIRED = "session_expired"


@functools.lru_cache(maxsize=16)
def _resolved(folder: str, cwd: str) -> Path:
    # resolve() is a few system calls per path part; a rerun asks for these folders many times.
    return Path(cwd, folder).resolve()


def data_dir() -> Path:
    """The store's folder: env QA_DATA_DIR, default ./data (as for the `qa` command)."""
    return _resolved(os.environ.get("QA_DATA_DIR") or "data", os.getcwd())


def scorecards_dir() -> Path:
    return _resolved(os.environ.get("QA_SCORECARDS_DIR") or str(DEFAULT_DIR), os.getcwd())


@st.cache_resource(show_spinner=False)
def _open_store(folder: str):
    from qa.store import Store

    return Store.open(Path(folder))


def store():
    """The store of this server process, opened once per data folder."""
    return _open_store(str(data_dir()))


@st.cache_resource(show_spinner=False)
def _sessions() -> Sessions:
    minutes = float(os.environ.get("QA_SESSION_IDLE_MINUTES") or 30)
    from datetime import timedelta

    return Sessions(idle=timedelta(minutes=minutes))


@st.cache_resource(show_spinner=False)
def _throttle() -> Throttle:
    return Throttle()


@st.cache_resource(show_spinner=False, max_entries=8)
def _scorecards(folder: str, stamp: tuple[tuple[str, float], ...]) -> dict[str, LoadedScorecard]:
    # A resource, not cache_data: shared read-only by every run instead of unpickled on each
    # rerun (~5 ms of every rerun of the form). Nothing mutates a loaded scorecard.
    return load_all(Path(folder))


def scorecards() -> dict[str, LoadedScorecard]:
    """Every scorecard of the scorecards folder, re-read only when a file changes."""
    folder = scorecards_dir()
    stamp = tuple((p.name, p.stat().st_mtime) for p in scorecard_files([folder]))
    return _scorecards(str(folder), stamp)


@st.cache_data(show_spinner=False, max_entries=8)
def _statuses(folder: str, stamp: tuple[tuple[str, float], ...]) -> list[tuple[str, LoadedScorecard | None, list[str]]]:
    out: list[tuple[str, LoadedScorecard | None, list[str]]] = []
    for path in scorecard_files([Path(folder)]):
        try:
            out.append((path.name, load_scorecard(path), []))
        except ScorecardError as error:
            out.append((path.name, None, [str(problem) for problem in error.problems]))
    return out


def scorecard_statuses() -> list[tuple[str, LoadedScorecard | None, list[str]]]:
    """Every scorecard file with its validated scorecard, or the problems that make it invalid."""
    folder = scorecards_dir()
    stamp = tuple((p.name, p.stat().st_mtime) for p in scorecard_files([folder]))
    return _statuses(str(folder), stamp)


def site_dir() -> Path:
    """Where the coaching site is built: env QA_SITE_DIR, default ./site."""
    return Path(os.environ.get("QA_SITE_DIR") or "site").resolve()


def scorecard(scorecard_id: str) -> LoadedScorecard:
    cards = scorecards()
    if scorecard_id not in cards:
        raise QAError(tr()("ui.unknown_scorecard", id=scorecard_id))
    return cards[scorecard_id]


def behaviour_scorecards(channel: str) -> dict[str, LoadedScorecard]:
    """The scorecards built on the four behaviours that cover `channel` (field evaluations)."""
    return {
        sid: loaded
        for sid, loaded in scorecards().items()
        if channel in loaded.card.channels and all(s.behaviour for s in loaded.card.sections)
    }


def lang() -> str:
    value = st.session_state.get(LANG, DEFAULT_LANGUAGE)
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def tr():
    """The message function of the tab's language."""
    return translator(lang())


def _language_changed(widget_key: str) -> None:
    # .get: after a sign-in the tab's state is cleared while the browser still holds the widget.
    chosen = st.session_state.get(widget_key)
    if chosen in LANGUAGES:
        st.session_state[LANG] = chosen


def language_switch(where: Any, widget_key: str) -> None:
    """A FR | EN switch; the choice lives outside the widget so that it survives page changes."""
    where.radio(
        tr()("app.language"),
        LANGUAGES,
        index=LANGUAGES.index(lang()),
        format_func=lambda code: code.upper(),
        horizontal=True,
        key=widget_key,
        on_change=_language_changed,
        args=(widget_key,),
    )


def current_actor() -> Actor | None:
    """The signed-in user of this tab, or None (an expired session forgets the tab's state).

    Checked against the users table on every run (a dict lookup): a user an admin deactivated
    is signed out at their next tap, and a changed role applies at once.
    """
    token = st.session_state.get(TOKEN)
    actor = _sessions().actor(token)
    if actor is not None:
        actor = still_valid(store(), actor)
        if actor is None:
            _sessions().end(token)
    if actor is None and token:
        forget_tab()
        st.session_state[EXPIRED] = True
    return actor


def forget_tab() -> None:
    """Clear everything of the tab but its language (sign-out, expiry)."""
    keep = lang()
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.session_state[LANG] = keep


class _Users:
    """The store's users as `qa.auth.authenticate` expects them: None for an unknown name.

    (The store raises NotFound; without this an unknown name would skip the throttle and the
    constant-time dummy check.)
    """

    def __init__(self, store) -> None:
        self._store = store

    def get_user(self, name: str):
        try:
            return self._store.get_user(name)
        except NotFound:
            return None


def sign_in(name: str, password: str) -> Actor:
    """Check the name and password (slowed down after repeated failures) and open a session."""
    throttle = _throttle()
    t = tr()
    try:
        actor = authenticate(_Users(store()), name.strip(), password, throttle)
    except SignInError:
        wait = throttle.wait_seconds(name.strip())
        message = t("ui.signin.throttled", seconds=int(wait) + 1) if wait > 0 else t("ui.signin.wrong")
        raise QAError(message) from None
    forget_tab()
    st.session_state[TOKEN] = _sessions().start(actor)
    return actor


def sign_out() -> None:
    _sessions().end(st.session_state.get(TOKEN))
    forget_tab()


@dataclass(frozen=True)
class Page:
    """What a page needs: the store, the signed-in actor, the message function and the language."""

    store: Any
    actor: Actor
    t: Any
    lang: str


def sign_in_screen() -> None:
    """The sign-in form: the only thing shown to someone not signed in."""
    from ui import style

    style.apply()
    t = tr()
    st.title(t("app.name"))
    language_switch(st, "lang_signin")
    if st.session_state.pop(EXPIRED, False):
        st.info(t("ui.signin.expired"))
    with st.form("signin"):
        st.subheader(t("ui.signin.title"))
        name = st.text_input(t("ui.signin.name"), key="signin_name", autocomplete="username")
        password = st.text_input(
            t("ui.signin.password"), type="password", key="signin_password", autocomplete="current-password"
        )
        submitted = st.form_submit_button(t("ui.signin.submit"), type="primary", width="stretch")
    if submitted:
        try:
            sign_in(name, password)
        except QAError as error:
            st.error(str(error))
            return
        st.rerun()


def _user_menu(actor: Actor) -> None:
    t = tr()
    with st.sidebar:
        st.markdown(f"**{actor.name}** · {t('ui.role.' + actor.role)}")
        language_switch(st, "lang_sidebar")
        st.button(t("ui.signin.sign_out"), key="sign_out", on_click=sign_out, icon=":material/logout:")


def _leave_pages_folder_mode() -> None:
    """Run the entry script instead when Streamlit ran this page file on its own.

    Until some session has run the entry script (which calls `st.navigation`), Streamlit treats
    an app with a `pages/` folder as an old-style one: the first visitor who opens a page's
    address after a server start gets that file run directly, with every file of `pages/`
    listed in the sidebar whatever their role, no top navigation, and so for every run of that
    tab. `st.navigation` records the switch in this class flag; recording it here and rerunning
    runs the entry script, which opens the same page through the navigation. (Widget ids depend
    on the running script, so nothing tapped in the old-style run could be kept anyway.)
    AppTest resets the flag before each of its runs and runs page files directly on purpose:
    there, nothing is done.
    """
    from streamlit import config
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and not config.get_option("global.appTest"):
        PagesManager.uses_pages_directory = False
        st.rerun()


def guard(permission: str) -> Page:
    """Every page starts here: sign-in when nobody is signed in, refusal without `permission`.

    The entry script already does this, but a page must not rely on it: Streamlit runs a page
    file directly in some cases (the first run of a server with a `pages/` folder, AppTest), and
    the domain checks rights again on every call anyway.
    """
    from ui import style

    _leave_pages_folder_mode()
    style.apply()
    actor = current_actor()
    if actor is None:
        sign_in_screen()
        st.stop()
    assert actor is not None
    t = tr()
    if not actor.can(permission):
        st.error(t("ui.denied"))
        st.stop()
    _user_menu(actor)
    return Page(store(), actor, t, lang())


def show_error(error: QAError) -> None:
    """A domain error as a message, never a traceback."""
    st.error(str(error) or type(error).__name__)
