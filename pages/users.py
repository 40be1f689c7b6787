"""Utilisateurs (admins): list the users, add one, change a role, deactivate or reactivate, reset a password.

Every action is one `qa.auth` call, which checks the admin's right itself; a new or reset
password is shown once, right after the action, and never stored in clear.
"""

from __future__ import annotations

import streamlit as st

from qa import auth
from qa.auth import ROLES, UserAdminError
from qa.errors import QAError
from ui import draft, session

page = session.guard("manage_users")
t, lang = page.t, page.lang
ONCE = "users_once"  # (message, new password) to show once, then forgotten
NOTICE = "users_notice"  # ("success" | "error", message)


def _error(error: QAError) -> str:
    code = getattr(error, "code", None) if isinstance(error, UserAdminError) else None
    return t(f"ui.users.error.{code}") if code else str(error)


def _act(action, *args, success: str | None = None, secret: str | None = None) -> None:
    """Run one qa.auth call as the signed-in admin; keep its outcome for the next run to show."""
    actor = session.current_actor()
    if actor is None:
        return
    try:
        result = action(session.store(), actor, *args)
    except QAError as error:
        st.session_state[NOTICE] = ("error", _error(error))
        return
    if secret is not None:
        st.session_state[ONCE] = (secret, result)
    elif success is not None:
        st.session_state[NOTICE] = ("success", success)


def _add() -> None:
    name = (st.session_state.get("users_add_name") or "").strip()
    role = st.session_state.get("users_add_role") or "shopper"
    display = st.session_state.get("users_add_display") or None
    _act(auth.add_user, name, role, display, secret=t("ui.users.added", name=name))
    if ONCE in st.session_state:
        for key in ("users_add_name", "users_add_display"):
            st.session_state[key] = ""


def _set_role(name: str) -> None:
    role = st.session_state.get(f"users_role_{name}") or ""
    _act(auth.set_role, name, role, success=t("ui.users.role_saved", name=name, role=t(f"ui.role.{role}")))


def _set_active(name: str, active: bool) -> None:
    message = t("ui.users.reactivated" if active else "ui.users.deactivated", name=name)
    _act(auth.set_active, name, active, success=message)


def _reset(name: str) -> None:
    _act(auth.reset_password, name, secret=t("ui.users.reset_done", name=name))


st.header(t("ui.users.title"))
st.caption(t("ui.users.intro"))
with st.container():  # always drawn, so that a message coming and going moves nothing below
    if ONCE in st.session_state:
        message, password = st.session_state.pop(ONCE)
        st.success(message, icon=":material/key:")
        st.code(password, language=None)
    if NOTICE in st.session_state:
        kind, message = st.session_state.pop(NOTICE)
        (st.success if kind == "success" else st.error)(message)

users = auth.list_users(page.store, page.actor)
st.dataframe(
    [
        {
            t("ui.users.col.name"): u.name,
            t("ui.users.col.display_name"): u.display_name,
            t("ui.users.col.role"): t(f"ui.role.{u.role}"),
            t("ui.users.col.active"): t("ui.users.is_active" if u.active else "ui.users.is_inactive"),
            t("ui.users.col.created"): u.created_at.astimezone(draft.local_tz()).strftime("%d/%m/%Y"),
        }
        for u in users
    ],
    hide_index=True,
    width="stretch",
)

st.subheader(t("ui.users.edit_title"))
by_name = {u.name: u for u in users}
chosen = st.selectbox(
    t("ui.users.pick"),
    list(by_name),
    format_func=lambda n: f"{n} · {by_name[n].display_name}",
    key="users_pick",
)
if chosen:
    user = by_name[chosen]
    if not user.active:
        st.warning(t("ui.users.inactive"))
    # A key per user: the role shown is the chosen user's, not the previous one's.
    st.radio(
        t("ui.users.role"),
        ROLES,
        index=ROLES.index(user.role),
        format_func=lambda r: t(f"ui.role.{r}"),
        horizontal=True,
        key=f"users_role_{chosen}",
    )
    with st.container(horizontal=True, gap="small"):
        st.button(t("ui.users.set_role"), key="users_set_role", on_click=_set_role, args=(chosen,), type="primary")
        if user.active:
            st.button(
                t("ui.users.deactivate"), key="users_deactivate", on_click=_set_active, args=(chosen, False),
                icon=":material/person_off:",
            )  # fmt: skip
        else:
            st.button(
                t("ui.users.reactivate"), key="users_reactivate", on_click=_set_active, args=(chosen, True),
                icon=":material/person_check:",
            )  # fmt: skip
        st.button(t("ui.users.reset"), key="users_reset", on_click=_reset, args=(chosen,), icon=":material/key:")

st.subheader(t("ui.users.add_title"))
st.text_input(t("ui.users.name"), key="users_add_name", max_chars=64)
st.text_input(t("ui.users.display_name"), key="users_add_display", max_chars=120)
st.radio(t("ui.users.role"), ROLES, format_func=lambda r: t(f"ui.role.{r}"), horizontal=True, key="users_add_role")
st.button(t("ui.users.add"), key="users_add", on_click=_add, type="primary", icon=":material/person_add:")

with st.expander(t("ui.users.log_title")):
    changes = auth.user_changes(page.store, page.actor)
    if not changes:
        st.caption(t("ui.users.log_empty"))
    for change in changes[:200]:
        details = ", ".join(f"{k}: {v}" for k, v in change.details.items())
        # Names come from the users table: shown as plain text, never as Markdown.
        st.text(
            t(
                "ui.users.log_line",
                at=change.at.astimezone(draft.local_tz()).strftime("%d/%m/%Y %H:%M"),
                by=change.by,
                action=t(f"ui.users.action.{change.action}"),
                user=change.user,
                details=f"({details})" if details else "",
            ).strip()
        )
