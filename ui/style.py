"""The app's static CSS: large touch targets, text readable at arm's length, no sideways scrolling.

Constant text only: user-entered text never goes through HTML.
"""

from __future__ import annotations

import streamlit as st

CSS = """
<style>
html, body, [data-testid="stApp"] { font-size: 18px; }
[data-testid="stMainBlockContainer"], .block-container {
  max-width: 920px; padding: 3.5rem 1rem 4rem 1rem;
}
p, li, label, .stMarkdown { line-height: 1.45; overflow-wrap: anywhere; }
/* Every button, link-button and popover trigger: at least 44 px high and wide. */
button, [data-testid="stBaseButton-secondary"], [data-testid="stBaseButton-primary"],
[data-testid="stPageLink-NavLink"] {
  min-height: 48px; min-width: 48px;
}
button p { font-size: 1.05rem; }
/* Radio options as large tappable chips (the real input is a 1 px clipped element). */
[data-testid="stRadioGroup"] { gap: 0.5rem; flex-wrap: wrap; }
[data-testid="stRadioOption"] {
  min-height: 48px; min-width: 88px; padding: 0.45rem 0.9rem; margin: 0; box-sizing: border-box;
  border: 1px solid rgba(49, 51, 63, 0.3); border-radius: 0.6rem;
  display: flex; align-items: center; background: #fff; cursor: pointer;
}
[data-testid="stRadioOption"][data-selected="true"] {
  border-color: #1f4e9c; background: #e6eefb; box-shadow: inset 0 0 0 1px #1f4e9c;
}
[data-testid="stRadioOption"][data-selected="true"] p { font-weight: 600; }
[data-testid="stRadioOption"] p { font-size: 1.05rem; }
[data-testid="stRadio"] > [data-testid="stWidgetLabel"] p { font-size: 1.05rem; font-weight: 600; }
input, textarea, [data-baseweb="select"] { font-size: 1.05rem !important; min-height: 44px; }
[data-testid="stExpander"] summary { min-height: 44px; display: flex; align-items: center; }
[data-testid="stFileUploaderDropzone"] button { min-height: 48px; }
/* The step bar and the running score stay in view while scrolling through a section. */
.st-key-form_header {
  position: sticky; top: 3.5rem; z-index: 5; background: var(--background-color, #fff);
  padding: 0.25rem 0 0.5rem 0; border-bottom: 1px solid rgba(49, 51, 63, 0.15);
}
.st-key-step_bar button { min-height: 44px; padding: 0.25rem 0.7rem; }
.st-key-step_bar button p { font-size: 0.95rem; }
/* The text boxes (ui/textbox.py) are drawn by a script that arrives a moment after the page:
   their places keep the height they are drawn at, so nothing below moves when they appear (a
   tap during such a move lands elsewhere). Comments, one-line context fields, debrief answers. */
[class*="st-key-cm_"] { min-height: 77px; }
[class*="st-key-ctxt_"] { min-height: 85px; }
[class*="st-key-dq_"] { min-height: 138px; }
@media (max-width: 820px) {
  [data-testid="stMainBlockContainer"], .block-container { padding-left: 0.75rem; padding-right: 0.75rem; }
}
</style>
"""


def apply() -> None:
    """Add the app's CSS to the page (a constant string, safe to mark as HTML)."""
    st.html(CSS)
