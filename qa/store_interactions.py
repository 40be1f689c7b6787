"""The interactions part of the Store: imports unique by id, lookups, and period reads as columns.

Interactions live in `interactions/<YYYY-MM>/i<NN>.json` (month of started_at in its own offset,
bucket of the id). Ids are unique across the whole table: an index of every stored id (id ->
month), built from the files' headers and refreshed from any header whose token changed, tells
`add_interactions` which ids are already stored, in any month, before any record is built.
`add_interaction_table` is the bulk path of imports: columns checked column-wise (see
qa/interaction_columns.py), no record built per row.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from qa.errors import NotFound, StoreError
from qa.models import Interaction, Record, dump_many, validated_many
from qa.partitions import bucket, months_between, paused_gc
from qa.store_core import INTERACTIONS, by_time
from qa.store_evaluations import EvaluationStore

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


def _id_of(item: Any) -> str | None:
    if item.__class__ is dict:  # the common case first: isinstance against ABCs costs ~1 us a call
        key = item.get("id")
        return key if key.__class__ is str else None
    if isinstance(item, Record):
        return item.record_key()
    key = item.get("id") if isinstance(item, Mapping) else None
    return key if isinstance(key, str) else None


class InteractionStore(EvaluationStore):
    """Interactions: calls and visits that can be sampled."""

    def _interaction_name(self, month: str, interaction_id: str) -> str:
        return f"interactions/{month}/i{bucket(interaction_id, self.layout['interaction_buckets']):02d}"

    def _interaction_index(self) -> dict[str, str]:
        """Every stored interaction id -> its month, brought up to date from changed headers."""
        index, indexed = self._interaction_months, self._indexed
        for month in self._parts.months("interactions"):
            for name in self._parts.names(f"interactions/{month}"):
                part = self._part(name, INTERACTIONS)
                token = part.peek_token()
                if token is None or indexed.get(name) != token:
                    index.update(dict.fromkeys(part.ids("interactions"), month))
                    indexed[name] = token
            self._parts.evict(every=64)
        return index

    def add_interactions(self, interactions: Iterable[Interaction | Mapping[str, Any]]) -> int:
        """Store new interactions; an id already stored (in any month) is skipped, before its
        record is even checked. Returns how many were added. The new ones are all validated
        first: one invalid record refuses the batch. Within the batch, the last of an id wins."""
        items = list(interactions)
        with self._reading():
            stored = self._interaction_index()
            new = [item for item in items if _id_of(item) not in stored]
        if not new:
            return 0
        buckets = self.layout["interaction_buckets"]
        with paused_gc():
            groups: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
            latest = {doc["id"]: doc for doc in dump_many(Interaction, validated_many(Interaction, new))}
            for key, doc in latest.items():  # the month is the start of the ISO time: YYYY-MM
                groups.setdefault((doc["started_at"][:7], zlib.crc32(key.encode()) % buckets), {})[key] = doc
            added = 0
            with self._writing(), self._parts.batch_writes():
                stored = self._interaction_index()  # again under the lock: another process may have added some
                for month, number in sorted(groups):
                    name = f"interactions/{month}/i{number:02d}"  # = self._interaction_name(...)
                    part = self._part(name, INTERACTIONS)
                    fresh = {key: doc for key, doc in groups[month, number].items() if key not in stored}
                    if fresh:
                        with part.transaction() as tx:
                            tx.merge("interactions", fresh)
                        stored.update(dict.fromkeys(fresh, month))
                        added += len(fresh)
                    self._parts.evict(every=16)
        return added

    def add_interaction_table(self, table: pa.Table) -> int:
        """`add_interactions` for an Arrow table whose columns are named as Interaction's fields.

        The same outcome, all or nothing, without a record per row: ids already stored are left
        out first, then the rest is checked column-wise (`interaction_columns.vouched`) and
        written as documents. A table the columns do not vouch for (a bad value, an id twice)
        goes through `add_interactions`, so it is refused with the model's message or stored
        in the model's form. Importing a million interactions: ~3 s instead of ~12 s."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from qa.interaction_columns import decoded, documents, vouched

        if "id" not in table.column_names or table.num_rows == 0:
            return self.add_interactions(table.to_pylist())
        ids = table["id"].to_pylist()
        with self._reading():
            stored = self._interaction_index()
            new = np.fromiter((key not in stored for key in ids), dtype=bool, count=len(ids))
        if not new.any():
            return 0
        if not new.all():
            table = table.filter(pa.array(new))
            ids = [key for key, fresh in zip(ids, new.tolist(), strict=True) if fresh]
        if len(pc.unique(table["id"])) < len(ids) or not vouched(table):
            return self.add_interactions(table.to_pylist())
        buckets = self.layout["interaction_buckets"]
        months = pc.utf8_slice_codeunits(decoded(table["started_at"]), 0, 7).combine_chunks().dictionary_encode()
        labels = months.dictionary.to_pylist()
        group = months.indices.to_numpy(zero_copy_only=False).astype(np.int64) * buckets
        group += np.fromiter((zlib.crc32(key.encode()) % buckets for key in ids), dtype=np.int64, count=len(ids))
        order = np.argsort(group, kind="stable")  # file by file, in the table's order within a file
        group = group[order]
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]).tolist()
        spans = {
            (labels[g // buckets], g % buckets): (a, b)
            for g, a, b in zip(group[starts].tolist(), starts, [*starts[1:], len(group)], strict=True)
        }
        with paused_gc():
            # Documents built file by file, so that each file's documents (and their strings) lie
            # together in memory: encoding them then reads memory in order (~1 s less a million).
            ordered = table.take(pa.array(order))  # cheap for the dictionary-encoded columns
            keys, docs = ordered["id"].to_pylist(), documents(ordered)
            del ordered
            added = 0
            with self._writing(), self._parts.batch_writes():
                stored = self._interaction_index()  # again under the lock: another process may have added some
                raced = bool(stored) and any(key in stored for key in keys)
                for month, number in sorted(spans):
                    a, b = spans[month, number]
                    fresh = dict(zip(keys[a:b], docs[a:b], strict=True))
                    if raced:
                        fresh = {key: doc for key, doc in fresh.items() if key not in stored}
                    if fresh:
                        # The index is brought up to date from the new headers on its next use.
                        with self._part(f"interactions/{month}/i{number:02d}", INTERACTIONS).transaction() as tx:
                            tx.merge("interactions", fresh)
                        added += len(fresh)
                    self._parts.evict(every=16)
        return added

    def get_interaction(self, interaction_id: str) -> Interaction:
        with self._reading():
            for month in reversed(self._parts.months("interactions")):
                part = self._part(self._interaction_name(month, interaction_id), INTERACTIONS)
                if interaction_id in part.ids("interactions"):
                    record = part.record("interactions", interaction_id)
                    if record is not None:
                        return cast(Interaction, record)
        raise NotFound(f"no interaction {interaction_id!r}")

    def get_interactions(self, interaction_ids: Iterable[str]) -> dict[str, Interaction]:
        """The stored interactions of these ids (unknown ids are left out), by id.

        The id index says which file holds each one: only those files are read, and only the
        wanted records are built (4,000 drawn calls among a million: a few seconds, not 15)."""
        wanted = set(interaction_ids)
        files: dict[str, set[str]] = {}
        with self._reading():
            index = self._interaction_index()
            for key in wanted:
                month = index.get(key)
                if month is not None:
                    files.setdefault(self._interaction_name(month, key), set()).add(key)
            room = self._parts.room()
        out: dict[str, Interaction] = {}
        for name, keys in sorted(files.items()):
            with self._reading(evict_every=16):
                part = self._part(name, INTERACTIONS)
                keep = part.is_parsed
                if not keep:
                    size = part.file_size()
                    keep, room = (True, room - size) if size <= room else (False, room)
                out.update(
                    (r.record_key(), cast(Interaction, r)) for r in part.scan("interactions", keep, ("id", keys))
                )
        return out

    def interactions_in(
        self, start: datetime, end: datetime, employee_ids: Collection[str] | None = None
    ) -> list[Interaction]:
        """Interactions with start <= started_at < end (of these employees), oldest first.

        Whole records (with the customer reference); `interaction_frame` is much faster for
        many interactions."""
        if start.tzinfo is None or end.tzinfo is None:
            raise StoreError("interactions_in needs timezone-aware start and end")
        match = None if employee_ids is None else ("employee_id", frozenset(employee_ids))
        low, high = start.timestamp(), end.timestamp()
        with self._reading():
            stored = set(self._parts.months("interactions"))
            names = [
                name
                for month in months_between(start, end)
                if month in stored
                for name in self._parts.names(f"interactions/{month}")
            ]
            room = self._parts.room()
        out: list[Interaction] = []
        for name in names:  # as iter_evaluations: cached while there is room, else read and dropped
            with self._reading(evict_every=16):
                part = self._part(name, INTERACTIONS)
                keep = part.is_parsed
                if not keep:
                    size = part.file_size()
                    keep, room = (True, room - size) if size <= room else (False, room)
                batch = cast(list[Interaction], part.scan("interactions", keep, match))
            out.extend(r for r in batch if low <= r.started_at.timestamp() < high)
        return by_time(out)

    def interaction_frame(
        self, start: datetime, end: datetime, employee_ids: Collection[str] | None = None
    ) -> pd.DataFrame:
        """Interactions with start <= started_at < end (of these employees) as columns.

        Columns: id, employee_id, channel (text), started_at (UTC), duration_seconds (float, NaN
        when unknown), has_recording (bool); never the customer reference. Rows come in storage
        order (the same for the same data; `sort_values("started_at")` for time order: sorting a
        million rows would double the cost). Decoded from the files' bodies without building
        records, and cached per file until it changes: a million interactions in about 2 s the
        first time, a tenth of that after.
        """
        import pyarrow as pa  # imported here: see Store.evaluation_rows
        import pyarrow.compute as pc

        from qa.store_columns import INTERACTION_SCHEMA, INTERACTION_VIEWS, UTC_NS, concat, interaction_block, to_frame

        if start.tzinfo is None or end.tzinfo is None:
            raise StoreError("interaction_frame needs timezone-aware start and end")
        blocks = []
        with self._reading():
            stored = set(self._parts.months("interactions"))
            names = [
                name
                for month in months_between(start, end)
                if month in stored
                for name in self._parts.names(f"interactions/{month}")
            ]
        for name in names:
            with self._reading(evict_every=16):
                block = self._part(name, INTERACTIONS).view("interaction_rows", interaction_block, INTERACTION_VIEWS)
            if block is not None:
                blocks.append(block)
        table = concat(blocks, INTERACTION_SCHEMA)
        moments = table["started_at"]
        keep = pc.and_(pc.greater_equal(moments, pa.scalar(start, UTC_NS)), pc.less(moments, pa.scalar(end, UTC_NS)))
        if employee_ids is not None:
            keep = pc.and_(keep, pc.is_in(table["employee_id"], pa.array(sorted(set(employee_ids)), pa.large_string())))
        return to_frame(table.filter(keep))
