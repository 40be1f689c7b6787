"""A text box that reaches the server while typing, so that nothing typed is lost.

Streamlit's own `st.text_area` sends its value only on blur or Ctrl+Enter: closing the tab in
the middle of a comment loses it. This box (a custom component, `st.components.v2`, plain
JavaScript with no build step) sends its value after a short pause in typing (`PAUSE_MS`), on
blur and when the page is hidden; every value sent runs `on_change`, which saves the draft.

The box is a real `<textarea>` with a real `<label>` (at least 44 px high); the text is only
ever set through `.value` and `.textContent`, never as HTML, so a typed `<script>` stays text.
The typed value reaches the script as `st.session_state[key]["value"]` (see `value_of`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

PAUSE_MS = 600

# The box's HTML comes with the page (see `_SKELETON`), so it takes its place at once; the
# script, loaded a moment later, brings it to life once per mount. Later calls (each rerun) only
# update the label and placeholder (the language may change) and take the server's value only
# when it is new to the box and the person is not typing in it, so a rerun never overwrites
# what is being typed.
JS = """
export default function (component) {
  const { data, setStateValue, parentElement } = component;
  const pause = data.pause || 600;
  let box = parentElement.querySelector(".qa-textbox");
  if (!box) {
    box = document.createElement("div");
    box.className = "qa-textbox";
    box.appendChild(document.createElement("label"));
    box.appendChild(document.createElement("textarea"));
    parentElement.appendChild(box);
  }
  const label = box.querySelector("label");
  const area = box.querySelector("textarea");
  if (!box.qaState) {
    const id = "qa-text-" + Math.random().toString(36).slice(2);
    label.htmlFor = id;
    area.id = id;
    area.value = data.value || "";
    const state = { sent: area.value, server: data.value || "", timer: null };
    box.qaState = state;
    const send = () => {
      clearTimeout(state.timer);
      state.timer = null;
      if (area.value !== state.sent) {
        state.sent = area.value;
        setStateValue("value", area.value);
      }
    };
    box.qaSend = send;
    area.addEventListener("input", () => {
      clearTimeout(state.timer);
      state.timer = setTimeout(send, pause);
    });
    area.addEventListener("blur", send);
    area.addEventListener("keydown", (event) => {
      // A one-line box (rows 1) behaves like a text input: Enter sends, it adds no line.
      if (event.key === "Enter" && area.rows === 1) {
        event.preventDefault();
        send();
      }
    });
    box.qaHidden = () => { if (document.visibilityState === "hidden") send(); };
  }
  if (!box.qaListening) {
    // Closing or hiding the tab sends what the pause has not sent yet (best effort).
    document.addEventListener("visibilitychange", box.qaHidden);
    window.addEventListener("pagehide", box.qaSend);
    box.qaListening = true;
  }
  const state = box.qaState;
  label.textContent = data.label || "";
  label.className = data.hide_label ? "qa-visually-hidden" : "";
  area.placeholder = data.placeholder || "";
  area.rows = data.rows || 3;
  area.style.resize = area.rows === 1 ? "none" : "vertical";
  if (data.max) area.maxLength = data.max;
  const incoming = data.value || "";
  const typing = parentElement.activeElement === area || state.timer !== null;
  if (incoming !== state.server) {
    state.server = incoming;
    if (!typing && incoming !== area.value) {
      area.value = incoming;
      state.sent = incoming;
    }
  }
  return () => {
    box.qaSend();
    document.removeEventListener("visibilitychange", box.qaHidden);
    window.removeEventListener("pagehide", box.qaSend);
    box.qaListening = false;
  };
}
"""

CSS = """
.qa-textbox { display: flex; flex-direction: column; gap: 0.35rem; font-family: var(--st-font, inherit); }
.qa-textbox label { font-size: 1rem; font-weight: 600; color: var(--st-text-color, #31333f); }
.qa-textbox textarea {
  box-sizing: border-box; width: 100%; min-height: 48px; padding: 0.6rem 0.75rem;
  font: inherit; font-size: 1.05rem; line-height: 1.4; resize: vertical;
  color: var(--st-text-color, #31333f); background: var(--st-secondary-background-color, #f0f2f6);
  border: 1px solid rgba(49, 51, 63, 0.25); border-radius: 0.5rem;
}
.qa-textbox textarea:focus { outline: 2px solid var(--st-primary-color, #1f4e9c); outline-offset: 1px; }
/* Before its text arrives, a visible label keeps the one line it will take. */
.qa-textbox label:empty::before { content: "\\00a0"; }
.qa-visually-hidden {
  position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap;
}
"""

# Constant markup (no text of anyone's): the box at its final size before the script runs, so
# that nothing below it moves when it comes to life (a tap during such a move lands elsewhere).
_SKELETON = '<div class="qa-textbox"><label class="{label}"></label><textarea rows="{rows}"></textarea></div>'
ROWS = (1, 2, 3)
_components = {
    (rows, hidden): st.components.v2.component(
        f"qualiterrain.textbox.{rows}{'h' if hidden else ''}",
        html=_SKELETON.format(rows=rows, label="qa-visually-hidden" if hidden else ""),
        js=JS,
        css=CSS,
    )
    for rows in ROWS
    for hidden in (False, True)
}


def value_of(widget_state: Any) -> Any:
    """The text of a box from its `st.session_state` entry (a mapping with "value")."""
    if isinstance(widget_state, Mapping):
        return widget_state.get("value")
    return widget_state


def text_box(
    label: str,
    *,
    value: str,
    key: str,
    on_change: Callable[..., None],
    args: tuple[Any, ...] = (),
    max_chars: int = 5000,
    placeholder: str = "",
    rows: int = 3,
    hide_label: bool = False,
) -> str:
    """Draw the box (starting from `value`, the draft's text) and return its current text.

    `on_change(*args)` runs each time the browser sends a new value (after a pause in typing,
    on blur). A hidden label is still a real label, read by screen readers.
    """
    if rows not in ROWS:
        raise ValueError(f"rows must be one of {ROWS}")
    result = _components[rows, hide_label](
        key=key,
        data={
            "value": value,
            "label": label,
            "placeholder": placeholder,
            "max": max_chars,
            "rows": rows,
            "hide_label": hide_label,
            "pause": PAUSE_MS,
        },
        default={"value": value},
        on_value_change=lambda: on_change(*args),
    )
    text = result.get("value")
    return text if isinstance(text, str) else value
