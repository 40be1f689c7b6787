"""The scorecard texts a page shows, at the version each evaluation was scored with.

An evaluation keeps the scorecard version it was scored against. Its labels and coaching tips
come from that version when the store remembers it; otherwise (or when that version lacks the
text) from the current file, as long as the criterion still exists there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from qa.scorecard_model import Criterion, Question, Scorecard

VersionKey = tuple[str, str]  # (scorecard id, version)


@dataclass(eq=False)  # compared and hashed by identity: it keys caches of labels
class CardBook:
    """Scorecards by exact version and by id (current file); read-only once built."""

    current: Mapping[str, Scorecard]
    versions: Mapping[VersionKey, Scorecard] = field(default_factory=dict)
    _criteria: dict[tuple[str, str, str], Criterion | None] = field(default_factory=dict, repr=False)

    def card(self, card_id: str, version: str | None = None) -> Scorecard | None:
        """The scorecard at `version` if known, else the current file's, else None."""
        if version is not None and (card_id, version) in self.versions:
            return self.versions[(card_id, version)]
        return self.current.get(card_id)

    def behaviour_card(self, card_id: str, version: str | None = None) -> bool:
        """Whether a scorecard scores people on the four behaviours (not a self-assessment)."""
        card = self.card(card_id, version)
        return card is not None and card.aggregation == "weighted_percent"

    def criterion(self, card_id: str, version: str | None, criterion_id: str) -> Criterion | None:
        """The criterion as worded at `version`, else in the current file, else None."""
        key = (card_id, version or "", criterion_id)
        if key not in self._criteria:
            found = None
            for card in (self.versions.get((card_id, version or "")), self.current.get(card_id)):
                if card is None:
                    continue
                try:
                    found = card.criterion(criterion_id)
                    break
                except KeyError:
                    continue
            self._criteria[key] = found
        return self._criteria[key]

    def latest_criterion(self, card_id: str, criterion_id: str, versions: list[str]) -> Criterion | None:
        """The current wording of a criterion, else its wording in the newest of `versions`."""
        found = self.criterion(card_id, None, criterion_id)
        for version in reversed(versions):
            if found is not None:
                break
            found = self.criterion(card_id, version, criterion_id)
        return found

    def question(self, card_id: str, version: str | None, question_id: str) -> Question | None:
        for card in (self.versions.get((card_id, version or "")), self.current.get(card_id)):
            if card is None:
                continue
            for question in card.questions:
                if question.id == question_id:
                    return question
        return None

    def choice_label(self, card_id: str, version: str | None, field_id: str, choice_id: str, lang: str) -> str | None:
        """The label of a choice in a context field (e.g. a scenario), None when unknown."""
        for card in (self.versions.get((card_id, version or "")), self.current.get(card_id)):
            if card is None:
                continue
            for context_field in card.context:
                if context_field.id == field_id and context_field.choices:
                    for choice in context_field.choices:
                        if choice.id == choice_id:
                            return choice.label.get(lang)
        return None

    def title(self, card_id: str, version: str | None, lang: str) -> str:
        card = self.card(card_id, version)
        return card.title.get(lang) if card is not None else card_id

    def band_label(self, card_id: str, band_id: str, lang: str) -> str:
        card = self.current.get(card_id)
        for band in card.bands if card is not None else []:
            if band.id == band_id:
                return band.label.get(lang)
        return band_id
