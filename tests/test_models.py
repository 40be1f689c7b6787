"""Record models: what is refused, and messages that name the record and the field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

import pytest

from qa.errors import InvalidRecord
from qa.models import (
    STATUS_TRANSITIONS,
    Channel,
    Draft,
    Employee,
    Evaluation,
    EvaluationStatus,
    Interaction,
    User,
    dump_many,
    new_id,
    validated,
    validated_many,
)
from qa.scorecard_model import CHANNELS
from tests.store_support import evaluation, interaction


def test_messages_name_the_record_and_each_wrong_field() -> None:
    with pytest.raises(InvalidRecord) as refused:
        validated(
            User,
            {
                "name": "lea",
                "display_name": "",
                "role": "boss",
                "password_hash": "x",
                "created_at": datetime(2025, 1, 1),
            },
        )
    error = refused.value
    assert error.record == "user 'lea'"
    assert set(error.messages) == {"display_name", "role", "created_at"}
    assert "user 'lea': created_at: input should have timezone info" in str(error)


def test_nested_fields_are_named_by_their_path() -> None:
    with pytest.raises(InvalidRecord, match=r"evaluation 'ev-x': comments\.tone: input should be a valid string"):
        validated(Evaluation, {**evaluation(), "id": "ev-x", "comments": {"tone": 3}})


def test_ids_are_refused_when_they_could_be_paths_or_markup() -> None:
    for bad in ["../x", "a b", "<script>", "", "é"]:
        with pytest.raises(InvalidRecord, match="id: string should match pattern"):
            validated(Employee, {"id": bad, "display_name": "X"})


def test_a_visit_or_an_interaction_must_be_evaluated() -> None:
    visit = validated(Evaluation, evaluation(interaction_id=None, visit={"place": "Lyon Part-Dieu"}))
    assert visit.visit == {"place": "Lyon Part-Dieu"} and visit.month == "2025-05"
    with pytest.raises(InvalidRecord, match=r"\(record\): needs an interaction_id"):
        validated(Evaluation, evaluation(interaction_id=None))


def test_bulk_validation_names_the_first_bad_item() -> None:
    items = [interaction(1), interaction(2, duration_seconds=-5), interaction(3, channel="fax")]
    with pytest.raises(InvalidRecord) as refused:
        validated_many(Interaction, items)
    assert refused.value.record == "interaction 'call-000002' (item 2)"
    assert refused.value.messages["duration_seconds"] == "input should be greater than or equal to 0"
    assert refused.value.messages["(other records)"] == "1 more problem(s) in other records"


def test_dump_many_gives_json_ready_dicts() -> None:
    [doc] = dump_many(Interaction, validated_many(Interaction, [interaction(1)]))
    assert doc["started_at"] == "2025-05-03T09:01:00+02:00" and doc["customer_ref"] == "C1"
    assert "customer_ref" not in validated(Interaction, interaction(1)).public()


def test_drafts_are_keyed_by_user_and_key() -> None:
    draft = validated(Draft, {"user": "u1", "key": "visit:lyon", "state": {}, "updated_at": datetime.now(UTC)})
    assert draft.record_key() == "u1/visit:lyon"


def test_every_status_has_its_transitions_and_channels_match_scorecards() -> None:
    assert set(STATUS_TRANSITIONS) == set(get_args(EvaluationStatus))
    assert all(targets <= set(get_args(EvaluationStatus)) for targets in STATUS_TRANSITIONS.values())
    assert set(get_args(Channel)) == set(CHANNELS)


def test_new_ids_are_random_hex() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
