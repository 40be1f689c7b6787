"""Bulk reads as columns: a few fields of every record of a file, decoded straight from its body.

Whole-table readers (the dashboard, sampling frames, counts) need some fields of many records, not
validated records. msgspec decodes a file's JSON body directly into small typed structs, skipping
every other field without building it (5x faster than parsing the whole file), and the rows
become one Arrow table per file: compact, invisible to the garbage collector, cached per file by
`Partition.view` until the file changes, and concatenated per query.

A document that does not fit the fast types (a score snapshot written by hand or by an older
version) sends its file down a slower, lenient path that gives the same columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


class _Section(msgspec.Struct, gc=False):
    behaviour: str | None = None
    score: float | None = None


class _Criterion(msgspec.Struct, gc=False):
    passed: bool | None = None
    fraction: float | None = None


class _Score(msgspec.Struct, gc=False, frozen=True):
    overall: float | None = None
    band: str | None = None
    critical_failed: bool | None = None
    critical_failures: list[str] = []
    sections: dict[str, _Section] = {}
    criteria: dict[str, _Criterion] = {}


class _EvaluationRow(msgspec.Struct, gc=False):
    id: str
    scorecard_id: str
    scorecard_version: str
    evaluator: str
    employee_id: str
    channel: str
    started_at: str
    status: str = "submitted"
    interaction_id: str | None = None
    submitted_at: str | None = None
    updated_at: str | None = None
    visit: dict[str, Any] | None = None
    score: _Score = _Score()
    # The evaluator's free text, kept as the file's JSON text (never decoded here): the site shows
    # a dozen evaluations' comments per employee and decodes only those.
    # (msgspec.Raw takes no union with None: an absent field reads as JSON null.)
    comments: msgspec.Raw = msgspec.Raw(b"null")
    debrief: msgspec.Raw = msgspec.Raw(b"null")


class _EvaluationFile(msgspec.Struct):
    evaluations: dict[str, _EvaluationRow] = {}


class _InteractionRow(msgspec.Struct, gc=False, array_like=False):
    id: str
    employee_id: str
    channel: str
    started_at: str
    duration_seconds: int | None = None
    recording: str | None = None


class _InteractionFile(msgspec.Struct):
    interactions: dict[str, _InteractionRow] = {}


_EVALUATIONS = msgspec.json.Decoder(_EvaluationFile)
_INTERACTIONS = msgspec.json.Decoder(_InteractionFile)
_ANY = msgspec.json.Decoder()
TEXT = pa.large_string()
UTC_NS = pa.timestamp("ns", tz="UTC")
SECTION, BEHAVIOUR, PASSED, FRACTION = "section.", "behaviour.", "passed.", "fraction."
TEXT_COLUMNS = ("comments", "debrief")  # free text, as JSON objects (only read when asked)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _lenient_score(score: Any) -> dict[str, Any]:
    """A score snapshot reduced to what the fast types accept (anything else counts as absent)."""
    if not isinstance(score, Mapping):
        return {}
    sections = score.get("sections")
    criteria = score.get("criteria")
    return {
        "overall": _number(score.get("overall")),
        "band": score.get("band") if isinstance(score.get("band"), str) else None,
        "critical_failed": score.get("critical_failed") if isinstance(score.get("critical_failed"), bool) else None,
        "critical_failures": [str(c) for c in failures]
        if isinstance(failures := score.get("critical_failures"), list)
        else [],
        "sections": {
            str(key): {
                "behaviour": value.get("behaviour") if isinstance(value.get("behaviour"), str) else None,
                "score": _number(value.get("score")),
            }
            for key, value in (sections.items() if isinstance(sections, Mapping) else ())
            if isinstance(value, Mapping)
        },
        "criteria": {
            str(key): {
                "passed": value.get("passed") if isinstance(value.get("passed"), bool) else None,
                "fraction": _number(value.get("fraction")),
            }
            for key, value in (criteria.items() if isinstance(criteria, Mapping) else ())
            if isinstance(value, Mapping)
        },
    }


def _evaluation_rows(body: bytes | memoryview) -> list[_EvaluationRow]:
    try:
        return list(_EVALUATIONS.decode(body).evaluations.values())
    except msgspec.ValidationError:
        docs = (_ANY.decode(body) or {}).get("evaluations") or {}
        rows = []
        for doc in docs.values():
            row = msgspec.convert(
                {**{k: v for k, v in doc.items() if k not in _RAW_FIELDS},
                 "score": _lenient_score(doc.get("score")), "visit": _lenient_visit(doc.get("visit"))},
                _EvaluationRow,
            )  # fmt: skip
            row.comments, row.debrief = _raw(doc.get("comments")), _raw(doc.get("debrief"))
            rows.append(row)
        return rows


_RAW_FIELDS = ("comments", "debrief")


def _raw(value: Any) -> msgspec.Raw:
    """A mapping of free text as JSON (null when empty or not a mapping)."""
    return msgspec.Raw(msgspec.json.encode(value) if isinstance(value, Mapping) and value else b"null")


def _text_of(raw: msgspec.Raw) -> str | None:
    """A free-text field's JSON as a string column value (None when there is nothing in it)."""
    text = bytes(raw).decode()
    return None if text in ("{}", "null") or not text.startswith("{") else text


def _lenient_visit(visit: Any) -> dict[str, Any] | None:
    return {str(k): v for k, v in visit.items()} if isinstance(visit, Mapping) else None


def _scenario(visit: dict[str, Any] | None) -> str | None:
    value = visit.get("scenario") if visit else None
    return value if isinstance(value, str) else None


def _utc(strings: Sequence[str | None]) -> pa.Array:
    """ISO 8601 times with offsets -> UTC nanoseconds (Arrow's parser, else pandas')."""
    text = pa.array(strings, TEXT)
    try:
        return text.cast(UTC_NS)
    except pa.ArrowInvalid:  # a form Arrow does not read (e.g. a week date); pandas reads any ISO 8601
        stamps = pd.to_datetime(pd.Series(strings, dtype=object), format="ISO8601", utc=True)
        return pa.array(stamps.dt.as_unit("ns"), type=UTC_NS)


def block_size(table: pa.Table) -> int:
    """Roughly the memory a block takes (for the store's cache budget)."""
    return int(table.get_total_buffer_size()) + 200 * table.num_columns


def evaluation_block(body: bytes | memoryview) -> tuple[pa.Table, int]:
    """The evaluation rows of one file's body as an Arrow table, and its size in bytes."""
    table = _evaluation_table(_evaluation_rows(body))
    return table, block_size(table)


def _evaluation_table(rows: list[_EvaluationRow]) -> pa.Table:
    n = len(rows)
    started = [r.started_at for r in rows]
    columns: dict[str, Any] = {
        "id": pa.array([r.id for r in rows], TEXT),
        "scorecard_id": pa.array([r.scorecard_id for r in rows], TEXT),
        "scorecard_version": pa.array([r.scorecard_version for r in rows], TEXT),
        "evaluator": pa.array([r.evaluator for r in rows], TEXT),
        "employee_id": pa.array([r.employee_id for r in rows], TEXT),
        "interaction_id": pa.array([r.interaction_id for r in rows], TEXT),
        "channel": pa.array([r.channel for r in rows], TEXT),
        "status": pa.array([r.status for r in rows], TEXT),
        "started_at": _utc(started),
        "month": pa.array([s[:7] for s in started], TEXT),  # in the evaluation's own offset
        "day": pa.array([s[:10] for s in started], TEXT),
        "submitted_at": _utc([r.submitted_at for r in rows]),
        "overall": pa.array([r.score.overall for r in rows], pa.float64()),
        "band": pa.array([r.score.band for r in rows], TEXT),
        "critical_failed": pa.array([bool(r.score.critical_failed) for r in rows], pa.bool_()),
        "critical_failures": pa.array([",".join(r.score.critical_failures) for r in rows], TEXT),
        "scenario": pa.array([_scenario(r.visit) for r in rows], TEXT),
        "updated_at": _utc([r.updated_at for r in rows]),
        "comments": pa.array([_text_of(r.comments) for r in rows], TEXT),
        "debrief": pa.array([_text_of(r.debrief) for r in rows], TEXT),
    }
    # Rows of one scorecard list the same sections and criteria in the same order: each group of
    # rows becomes one matrix, converted in C (None -> nan), instead of one assignment per value.
    # (A section's behaviour is fixed by the scorecard version: the first row of a group says it.)
    sections: dict[tuple[str, str, tuple[str, ...]], tuple[list[int], list[list[float | None]]]] = {}
    for i, row in enumerate(rows):
        items = row.score.sections
        if items:
            found = sections.setdefault((row.scorecard_id, row.scorecard_version, tuple(items)), ([], []))
            found[0].append(i)
            found[1].append([s.score for s in items.values()])
    scores: dict[str, np.ndarray] = {}
    for (_, _, keys), (positions, values) in sections.items():
        matrix, where = np.array(values, dtype=np.float64), np.asarray(positions)
        first = rows[positions[0]].score.sections
        for j, key in enumerate(keys):
            behaviour = first[key].behaviour
            scored = ~np.isnan(matrix[:, j])  # a later section of the same behaviour wins, if scored
            for name in (SECTION + key, *((BEHAVIOUR + behaviour,) if behaviour else ())):
                if name not in scores:
                    scores[name] = np.full(n, np.nan)
                scores[name][where[scored]] = matrix[scored, j]
    for name in sorted(scores):
        columns[name] = pa.array(scores[name], pa.float64(), from_pandas=True)
    # Criterion results: None -> -1 (not scored), False -> 0, True -> 1; and the share of the
    # criterion's weight earned (NaN when N/A or not scored).
    groups: dict[tuple[str, ...], tuple[list[int], list[list[bool | None]], list[list[float | None]]]] = {}
    for i, row in enumerate(rows):
        criteria = row.score.criteria
        if criteria:
            group = groups.setdefault(tuple(criteria), ([], [], []))
            group[0].append(i)
            group[1].append([c.passed for c in criteria.values()])
            group[2].append([c.fraction for c in criteria.values()])
    passed: dict[str, np.ndarray] = {}
    fractions: dict[str, np.ndarray] = {}
    for keys, (positions, results, shares) in groups.items():
        matrix = np.array(results, dtype=np.float64)  # None -> nan
        codes = np.where(np.isnan(matrix), -1, matrix).astype(np.int8)
        earned = np.array(shares, dtype=np.float64).astype(np.float32)
        for j, key in enumerate(keys):
            if key not in passed:
                passed[key] = np.full(n, -1, dtype=np.int8)
                fractions[key] = np.full(n, np.nan, dtype=np.float32)
            passed[key][positions] = codes[:, j]
            fractions[key][positions] = earned[:, j]
    for key in sorted(passed):
        columns[PASSED + key] = pa.array(passed[key], pa.int8())
    for key in sorted(fractions):
        columns[FRACTION + key] = pa.array(fractions[key], pa.float32(), from_pandas=True)
    return pa.table(columns)


def interaction_block(body: bytes | memoryview) -> tuple[pa.Table, int]:
    """The interactions of one file's body as an Arrow table (no customer reference), and its size."""
    rows = list(_INTERACTIONS.decode(body).interactions.values())
    table = pa.table(
        {
            "id": pa.array([r.id for r in rows], TEXT),
            "employee_id": pa.array([r.employee_id for r in rows], TEXT),
            "channel": pa.array([r.channel for r in rows], TEXT),
            "started_at": _utc([r.started_at for r in rows]),
            "duration_seconds": pa.array([r.duration_seconds for r in rows], pa.float64()),
            "has_recording": pa.array([bool(r.recording) for r in rows], pa.bool_()),
        }
    )
    return table, block_size(table)


def in_order(table: pa.Table) -> pa.Table:
    """Evaluation rows sorted by started_at, then id; the table itself when already in order.

    Each month's rows are kept sorted, and months follow each other, so a whole read is almost
    always in order already: checking costs a sort of two columns' indices, reordering a table of
    130 columns costs ten times more.
    """
    order = pc.sort_indices(table, sort_keys=[("started_at", "ascending"), ("id", "ascending")])
    if np.array_equal(order.to_numpy(), np.arange(table.num_rows)):
        return table
    return table.take(order)


def concat(blocks: Iterable[pa.Table], empty: pa.Schema) -> pa.Table:
    """One table of many files' blocks (a column missing from a block is null there)."""
    blocks = [b for b in blocks if b.num_rows]
    if not blocks:
        return empty.empty_table()
    return pa.concat_tables(blocks, promote_options="default")


class ArrowViews:
    """Blocks kept on disk beside their file as Arrow IPC (qa/partitions.py `ViewCodec`): a new
    process reads a million interactions' columns in a tenth of a second instead of decoding
    200 MB of JSON."""

    def __init__(self, name: str) -> None:
        self.name = name

    def dump(self, value: pa.Table) -> bytes | memoryview:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, value.schema) as writer:
            writer.write_table(value)
        return memoryview(sink.getvalue())

    def load(self, data: bytes | memoryview) -> tuple[pa.Table, int]:
        """The table of a view file's payload; ValueError when it is damaged.

        The full validation (every offset within its buffer: 0.04 s for 100,000 evaluations'
        views) is what keeps a damaged file from reading past its mapping (a bus error that
        would end the process) or past its buffer.
        """
        try:
            table = pa.ipc.open_file(pa.py_buffer(data)).read_all()
            table.validate(full=True)
        except (pa.ArrowException, OSError) as error:  # pyarrow reports a damaged footer as OSError
            raise ValueError(str(error)) from None
        return table, block_size(table)


# The names of the files on disk: change the version when a block's columns change.
EVALUATION_VIEWS = ArrowViews("evaluation-rows.v4.arrow")  # v3: month views sorted; v4: free text
INTERACTION_VIEWS = ArrowViews("interaction-rows.v2.arrow")  # v2: header padded (aligned buffers)
EVALUATION_SCHEMA = evaluation_block(b"{}")[0].schema
INTERACTION_SCHEMA = interaction_block(b"{}")[0].schema


def to_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as a pandas DataFrame: text as pandas' Arrow-backed strings (no copy into
    Python objects), numbers as numpy, criterion results as int8 with -1 where not scored."""
    columns: dict[str, Any] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if column.type == TEXT:
            columns[name] = pd.array(column, dtype="str")
        elif name.startswith(PASSED):
            columns[name] = pc.fill_null(column, -1).to_numpy()
        elif pa.types.is_timestamp(column.type):
            columns[name] = pd.Series(column.to_pandas(), copy=False).array
        else:
            columns[name] = column.to_numpy()
    return pd.DataFrame(columns, copy=False)


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if isinstance(moment, datetime) else moment


def _row_of(record: Any) -> _EvaluationRow:
    try:
        score = msgspec.convert(record.score or {}, _Score)
    except msgspec.ValidationError:
        score = msgspec.convert(_lenient_score(record.score), _Score)
    return _EvaluationRow(
        id=record.id,
        scorecard_id=record.scorecard_id,
        scorecard_version=record.scorecard_version,
        evaluator=record.evaluator,
        employee_id=record.employee_id,
        channel=record.channel,
        started_at=record.started_at.isoformat(),
        status=record.status,
        interaction_id=record.interaction_id,
        submitted_at=_iso(record.submitted_at),
        updated_at=_iso(record.updated_at),
        visit=record.visit,
        score=score,
        comments=_raw(record.comments),
        debrief=_raw(record.debrief),
    )


def evaluation_frame(evaluations: Iterable[Any]) -> pd.DataFrame:
    """Records (with the `qa.models.Evaluation` fields) as the frame
    `Store.evaluation_rows(criteria=True, texts=True)` returns, in the order given: for analyses handed records rather than a store."""
    return to_frame(_evaluation_table([_row_of(r) for r in evaluations]))
