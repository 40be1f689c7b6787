"""Échantillonnage: import call logs, draw a reproducible sample of calls, follow and verify draws."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from qa import draws
from qa.auth import require
from qa.call_logs import ImportRefused
from qa.draws import SamplingError
from qa.errors import QAError
from qa.interactions import (
    CHANNELS,
    FIELDS,
    MAPPING_NAME,
    ColumnMapping,
    channel_words_text,
    guess_mapping,
    import_interactions,
    list_mappings,
    load_mapping,
    mapping_from_dict,
    parse_channel_words,
    read_table,
    save_mapping,
    sheet_names,
)
from qa.sampling import STRATA, SamplingPlan
from ui import session
from ui.view import when

page = session.guard("sample")
t, lang, store, actor = page.t, page.lang, page.store, page.actor


def months(count: int = 13) -> list[str]:
    """The last `count` months and every month already drawn, the newest first."""
    today = date.today()
    out = {str(d.plan.get("period")) for d in store.list_draws() if d.plan.get("period")}
    year, month = today.year, today.month
    for _ in range(count):
        out.add(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return sorted(out, reverse=True)


def show_error(error: QAError) -> None:
    st.error(error.message(lang) if isinstance(error, SamplingError) else str(error))


def outcome(result: draws.DrawOutcome) -> None:
    st.success(t("ui.sampling.drawn", id=result.draw.id, n=len(result.draw.selected), seed=result.draw.seed))
    loads: dict[str, int] = {}
    for a in result.assignments:
        loads[a.evaluator] = loads.get(a.evaluator, 0) + 1
    st.text(" · ".join(f"{name} : {n}" for name, n in sorted(loads.items())))
    for line in draws.describe_shortfalls(result.draw.shortfalls, lang):
        st.warning(line)


def draw_tab() -> None:
    st.caption(t("ui.sampling.draw_intro"))
    with st.form("sampling_plan"):
        choices = months()
        last_month = f"{date.today().replace(day=1) - timedelta(days=1):%Y-%m}"
        period = st.selectbox(t("ui.sampling.period"), choices, index=choices.index(last_month), key="sampling_period")
        quota = st.number_input(t("ui.sampling.quota"), min_value=1, max_value=1000, value=4, key="sampling_quota")
        strata = st.multiselect(
            t("ui.sampling.strata"),
            list(STRATA),
            default=["channel", "week"],
            format_func=lambda d: t(f"sampling.dimension.{d}"),
            key="sampling_strata",
        )
        minimum = st.number_input(t("ui.sampling.min_duration"), min_value=0, value=30, key="sampling_min_duration")
        seed = st.text_input(t("ui.sampling.seed"), key="sampling_seed", help=t("ui.sampling.seed_help"))
        submitted = st.form_submit_button(t("ui.sampling.draw"), type="primary", icon=":material/casino:")
    if submitted:
        try:
            if seed.strip() and not seed.strip().isdigit():
                raise QAError(t("ui.sampling.bad_seed"))
            plan = SamplingPlan(period=period, quota=int(quota), strata=tuple(strata), min_duration=int(minimum))
            result = draws.run_draw(store, plan, seed=int(seed) if seed.strip() else None, actor=actor)
        except QAError as error:
            show_error(error)
        except ValueError as error:  # a plan the model refuses (pydantic names the field)
            st.error(str(error))
        else:
            outcome(result)
            st.session_state["sampling_pick"] = result.draw.id  # the Tirages tab then follows the new draw


def draws_tab() -> None:
    recorded = list(reversed(store.list_draws()))
    if not recorded:
        st.info(t("ui.sampling.no_draws"))
        return
    labels = {d.id: f"{d.plan.get('period')} · {len(d.selected)} · {when(d.created_at)} · {d.id}" for d in recorded}
    picked = st.selectbox(t("ui.sampling.pick"), list(labels), format_func=labels.get, key="sampling_pick")
    try:
        progress = draws.draw_progress(store, picked, actor=actor)
    except QAError as error:
        show_error(error)
        return
    except ValueError as error:  # a stored plan this version cannot read
        st.error(str(error))
        return
    left, middle, right = st.columns(3)
    left.metric(t("ui.sampling.drawn_count"), progress.drawn)
    middle.metric(t("ui.sampling.assigned_count"), progress.assigned)
    right.metric(t("ui.sampling.evaluated_count"), progress.evaluated)
    if progress.drawn:
        st.progress(progress.evaluated / progress.drawn, text=t("ui.sampling.done_share", done=progress.evaluated,
                                                                  total=progress.drawn))  # fmt: skip
    if progress.evaluators:
        st.dataframe(pd.DataFrame(progress.evaluators), hide_index=True, width="stretch")
    if st.button(t("ui.sampling.verify"), key="sampling_verify", icon=":material/verified:"):
        try:
            require(actor, "sample")
            check = draws.verify_draw(store, picked)
        except QAError as error:
            show_error(error)
        else:
            (st.success if check.matches else st.error)(
                t("ui.sampling.verified" if check.matches else "ui.sampling.not_verified", id=check.draw_id)
            )
            for line in [*check.differences, *check.notes]:
                if line:
                    st.text(line)
    if st.button(t("ui.sampling.topup"), key="sampling_topup", icon=":material/add_circle:"):
        try:
            outcome(draws.topup(store, picked, actor=actor))
        except QAError as error:
            show_error(error)


SEPARATORS = ("", ";", ",", "\t", "|")  # "": guessed from the header line
ENCODINGS = ("", "utf-8", "cp1252")  # "": UTF-8, else Windows-1252 / Latin-1
UNITS = ("seconds", "minutes", "milliseconds")
NONE = ""  # "no column" / "not set" in the editor's selectboxes
FORMAT_KEYS = ("sampling_sep", "sampling_encoding", "sampling_date_format", "sampling_unit", "sampling_timezone",
               "sampling_default_channel", "sampling_sheet", "sampling_channel_words")  # fmt: skip
COLUMN_KEYS = tuple(f"sampling_col_{name}" for name in FIELDS)


def start_over(token_key: str, token: object, keys: Iterable[str]) -> None:
    """Forget the widgets' values when what they were filled from changed (another file, another
    saved mapping, other headers): they start again from the new mapping's values."""
    if st.session_state.get(token_key) != token:
        for key in keys:
            st.session_state.pop(key, None)
        st.session_state[token_key] = token


def pick(label: str, options: Sequence[str], current: str | None, key: str, shown: dict[str, str]) -> str:
    """A selectbox starting on `current` (the first option when it is not one of them)."""
    if st.session_state.get(key) not in options:  # set through the state: it wins over the browser's old value
        st.session_state[key] = current if current in options else options[0]
    return st.selectbox(label, options, key=key, format_func=lambda o: shown.get(o, o))


def text(label: str, current: str, key: str, **kwargs: Any) -> str:
    """A text input starting on `current` (see `pick`)."""
    if key not in st.session_state:
        st.session_state[key] = current
    return st.text_input(label, key=key, **kwargs)


def edit_mapping(data: bytes, name: str, saved: ColumnMapping | None) -> ColumnMapping | None:
    """The column mapping as the user edits it: the file's format, then a column for each field,
    starting from `saved` or from the mapping guessed from the headers. None when the file cannot be
    read with that format or the mapping is invalid (the problems are shown)."""
    start = saved or ColumnMapping(columns={})
    auto = t("ui.sampling.editor.auto")
    sep = pick(t("ui.sampling.editor.sep"), SEPARATORS, start.sep, "sampling_sep",
               {"": auto, ";": "« ; »", ",": "« , »", "|": "« | »", "\t": t("ui.sampling.editor.tab")})  # fmt: skip
    encoding = pick(t("ui.sampling.editor.encoding"), ENCODINGS, start.encoding, "sampling_encoding",
                    {"": auto, "utf-8": "UTF-8", "cp1252": "Latin-1 (Windows-1252)"})  # fmt: skip
    sheets = sheet_names(data)  # [] for a CSV file: no sheet to pick
    sheet = pick(t("ui.sampling.editor.sheet"), sheets, start.sheet, "sampling_sheet", {}) if sheets else None
    try:
        table = read_table(data, name, ColumnMapping(columns={}, sep=sep or None, encoding=encoding or None),
                           sheet=sheet)  # fmt: skip
    except ImportRefused as refused:
        st.error(refused.render(lang))
        return None
    headers = [str(h) for h in table.frame.columns]
    st.caption(t("ui.sampling.editor.columns_found", n=len(table.frame), columns=" · ".join(headers)))
    first = saved or guess_mapping(headers)
    start_over("sampling_columns_of", (st.session_state.get("sampling_editor_of"), tuple(headers)), COLUMN_KEYS)
    options = [NONE, *headers]
    no_column = {NONE: t("ui.sampling.editor.no_column")}
    columns: dict[str, str] = {}
    for field in FIELDS:
        label, key = t(f"ui.sampling.editor.field.{field}"), f"sampling_col_{field}"
        if chosen := pick(label, options, first.columns.get(field), key, no_column):
            columns[field] = chosen
    date_format = text(t("ui.sampling.editor.date_format"), start.date_format or "", "sampling_date_format",
                       help=t("ui.sampling.editor.date_format_help"))  # fmt: skip
    unit = pick(t("ui.sampling.editor.unit"), UNITS, start.duration_unit, "sampling_unit",
                {u: t(f"ui.sampling.editor.units.{u}") for u in UNITS})  # fmt: skip
    zone = text(t("ui.sampling.editor.timezone"), start.timezone, "sampling_timezone")
    default_channel = pick(t("ui.sampling.editor.default_channel"), [NONE, *CHANNELS], start.default_channel,
                           "sampling_default_channel",
                           {NONE: t("ui.sampling.editor.no_default"), **{c: t(f"channel.{c}") for c in CHANNELS}})  # fmt: skip
    if "sampling_channel_words" not in st.session_state:  # see `text`
        st.session_state["sampling_channel_words"] = channel_words_text(start.channels)
    words = st.text_area(t("ui.sampling.editor.channel_words"), key="sampling_channel_words",
                         help=t("ui.sampling.editor.channel_words_help"))  # fmt: skip
    try:
        channels = parse_channel_words(words, lang)
    except QAError as error:
        show_error(error)
        return None
    fields = {"columns": columns, "sep": sep or None, "encoding": encoding or None,
              "date_format": date_format.strip() or None, "duration_unit": unit, "timezone": zone.strip(),
              "default_channel": default_channel or None, "channels": channels, "sheet": sheet}  # fmt: skip
    try:
        return mapping_from_dict(fields, t("ui.sampling.editor.source"))
    except QAError as error:
        show_error(error)
        return None


def save_tab_mapping(mapping: ColumnMapping) -> None:
    name = st.text_input(t("ui.sampling.editor.name"), key="sampling_mapping_name",
                         help=t("ui.sampling.editor.name_help")).strip()  # fmt: skip
    if st.button(t("ui.sampling.editor.save"), key="sampling_save_mapping", icon=":material/save:"):
        if not MAPPING_NAME.match(name):
            st.error(t("sampling.import.bad_mapping_name", name=name))
            return
        try:
            save_mapping(session.data_dir(), name, mapping)
        except QAError as error:
            show_error(error)
        else:
            st.success(t("ui.sampling.editor.saved", name=name))


def import_upload(data: bytes, name: str, mapping_name: str) -> None:
    """Edit (or take) the column mapping of an uploaded call log, save it, import the file with it."""
    start_over("sampling_editor_of", (name, len(data), hash(data), mapping_name), (*FORMAT_KEYS, *COLUMN_KEYS))
    try:
        saved = load_mapping(session.data_dir(), mapping_name) if mapping_name else None
    except QAError as error:
        show_error(error)
        return
    with st.expander(t("ui.sampling.editor.title"), expanded=True):
        mapping = edit_mapping(data, name, saved)
        if mapping is None:
            return
        save_tab_mapping(mapping)
    skip = st.toggle(t("ui.sampling.skip_unknown"), key="sampling_skip_unknown")
    if st.button(t("ui.sampling.import"), key="sampling_import", type="primary"):
        try:
            report = import_interactions(store, data, name, mapping, skip_unknown_employees=skip, actor=actor)
        except ImportRefused as refused:
            st.error(refused.render(lang))
        except QAError as error:
            show_error(error)
        else:
            st.success(t("ui.sampling.imported", rows=report.rows, added=report.added, present=report.already_present))
            if report.skipped_rows:
                st.warning(
                    t("ui.sampling.skipped", n=report.skipped_rows, employees=", ".join(report.unknown_employees))
                )


def import_tab() -> None:
    st.caption(t("ui.sampling.import_intro"))
    uploaded = st.file_uploader(t("ui.sampling.file"), type=["csv", "txt", "xlsx"], key="sampling_file")
    saved = list_mappings(session.data_dir())
    mapping_name = st.selectbox(
        t("ui.sampling.mapping"),
        ["", *saved],
        format_func=lambda name: name or t("ui.sampling.mapping_guess"),
        key="sampling_mapping",
    )
    if uploaded is not None:
        import_upload(uploaded.getvalue(), uploaded.name, mapping_name)


st.header(t("ui.sampling.title"))
tabs = st.tabs([t("ui.sampling.tab_draw"), t("ui.sampling.tab_draws"), t("ui.sampling.tab_import")])
with tabs[0]:
    draw_tab()
with tabs[1]:
    draws_tab()
with tabs[2]:
    import_tab()
