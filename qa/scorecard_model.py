"""The pydantic models of a scorecard: what a YAML scorecard may contain, and its local rules."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

BEHAVIOURS = ("courtesy", "listening", "empathy", "solution")
CHANNELS = ("face_to_face", "phone", "email", "chat")
NA = "na"

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class Strict(BaseModel):
    """Base for every scorecard part: unknown keys are errors, values are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Text(Strict):
    """A text in both languages of the product (French first)."""

    fr: Annotated[str, Field(min_length=1)]
    en: Annotated[str, Field(min_length=1)]

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.fr


class YesNo(Strict):
    """A yes/no answer: yes earns the criterion's weight, no earns nothing."""

    type: Literal["yes_no"]


class YesNoNA(Strict):
    """A yes/no answer where "not applicable" is also allowed."""

    type: Literal["yes_no_na"]


class RatingLevel(Strict):
    value: int
    label: Text


class Rating(Strict):
    """A labelled rating from `min` to `max` (e.g. 1 never .. 5 always)."""

    type: Literal["rating"]
    min: int
    max: int
    labels: list[RatingLevel] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Rating:
        if self.max <= self.min:
            raise ValueError(f"rating max ({self.max}) must be greater than min ({self.min})")
        values = [level.value for level in self.labels]
        outside = [v for v in values if not self.min <= v <= self.max]
        if outside:
            raise ValueError(f"rating labels {outside} are outside {self.min}..{self.max}")
        if len(set(values)) != len(values):
            raise ValueError("rating labels repeat a value")
        return self


class Points(Strict):
    """Points from 0 to `max`, e.g. 0..3 for none, partial, most, all."""

    type: Literal["points"]
    max: Annotated[int, Field(ge=1)]


Scale = Annotated[YesNo | YesNoNA | Rating | Points, Field(discriminator="type")]


class Criterion(Strict):
    """One observable behaviour, scored on a scale and explained to evaluator and employee."""

    id: Identifier
    label: Text
    guidance: Text
    coaching: Text
    source: Annotated[str, Field(pattern=r"^\d{3}_[0-9a-f]{16}\.txt$")]
    scale: Scale
    weight: Annotated[float, Field(gt=0)] = 1.0
    critical: bool = False
    na_allowed: bool = False
    pass_at: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _na_follows_scale(cls, data: Any) -> Any:
        """yes_no_na means N/A is allowed: make it explicit so a dumped scorecard loads back as it was."""
        if isinstance(data, dict) and isinstance(data.get("scale"), dict) and data["scale"].get("type") == "yes_no_na":
            if data.get("na_allowed") is False:
                raise ValueError("scale yes_no_na allows N/A, but na_allowed is false")
            data = {**data, "na_allowed": True}
        return data

    @model_validator(mode="after")
    def _check(self) -> Criterion:
        scale = self.scale
        if isinstance(scale, (YesNo, YesNoNA)):
            if self.pass_at is not None:
                raise ValueError("pass_at applies to rating and points scales only (yes passes)")
            return self
        low = scale.min if isinstance(scale, Rating) else 0
        if self.pass_at is not None and not low <= self.pass_at <= scale.max:
            raise ValueError(f"pass_at {self.pass_at} is outside the scale {low}..{scale.max}")
        if self.critical and self.effective_pass_at <= low:
            raise ValueError(
                "critical criterion cannot fail: every answer passes "
                f"(pass_at {self.effective_pass_at} is the lowest value of the scale)"
            )
        return self

    @property
    def allows_na(self) -> bool:
        return self.na_allowed or isinstance(self.scale, YesNoNA)

    @property
    def effective_pass_at(self) -> int:
        """The lowest value counted as a pass on a rating or points scale."""
        scale = self.scale
        if self.pass_at is not None:
            return self.pass_at
        if isinstance(scale, Rating):
            return max(scale.max - 1, scale.min + 1)
        if isinstance(scale, Points):
            return scale.max
        return 1


class Section(Strict):
    """A group of criteria; for behaviour scorecards, one of the four documented behaviours."""

    id: Identifier
    label: Text
    behaviour: Literal["courtesy", "listening", "empathy", "solution"] | None = None
    criteria: Annotated[list[Criterion], Field(min_length=1)]


class Choice(Strict):
    id: Identifier
    label: Text


class ContextField(Strict):
    """A fact about the visit or call recorded beside the answers (site, date, scenario...)."""

    id: Identifier
    label: Text
    type: Literal["text", "number", "choice", "date", "datetime", "timestamp", "duration", "interaction"]
    required: bool = False
    help: Text | None = None
    unit: Literal["seconds", "minutes"] | None = None
    choices: list[Choice] | None = None
    # A duration measured between two timestamp fields (e.g. arrived -> greeted).
    measured_from: Annotated[list[Identifier], Field(min_length=2, max_length=2)] | None = None

    @model_validator(mode="after")
    def _check(self) -> ContextField:
        if self.type == "choice" and not self.choices:
            raise ValueError("a choice field needs a non-empty 'choices' list")
        if self.type != "choice" and self.choices is not None:
            raise ValueError("'choices' is only for a field of type choice")
        if self.measured_from is not None and self.type != "duration":
            raise ValueError("'measured_from' is only for a field of type duration")
        if self.type in ("duration", "number") and self.unit is None and self.type == "duration":
            raise ValueError("a duration field needs a 'unit' (seconds or minutes)")
        return self


class Question(Strict):
    """A free-text question answered after the visit or call (the debrief)."""

    id: Identifier
    label: Text
    required: bool = False
    source: Annotated[str, Field(pattern=r"^\d{3}_[0-9a-f]{16}\.txt$")] | None = None


class Band(Strict):
    """A named range of the overall score: [min, max), the top band also includes its max."""

    id: Identifier
    label: Text
    min: float
    max: float

    @model_validator(mode="after")
    def _check(self) -> Band:
        if not (math.isfinite(self.min) and math.isfinite(self.max)) or self.max <= self.min:
            raise ValueError(f"band max ({self.max}) must be greater than its min ({self.min})")
        return self


class Scorecard(Strict):
    """A whole scorecard as written in YAML, after validation."""

    id: Identifier
    title: Text
    description: Text
    channels: Annotated[list[Literal["face_to_face", "phone", "email", "chat"]], Field(min_length=1)]
    aggregation: Literal["weighted_percent", "sum_of_means"] = "weighted_percent"
    context: list[ContextField] = Field(default_factory=list)
    sections: Annotated[list[Section], Field(min_length=1)]
    questions: list[Question] = Field(default_factory=list)
    bands: Annotated[list[Band], Field(min_length=1)]

    def criteria(self) -> list[Criterion]:
        return [c for s in self.sections for c in s.criteria]

    def criterion(self, criterion_id: str) -> Criterion:
        for c in self.criteria():
            if c.id == criterion_id:
                return c
        raise KeyError(criterion_id)

    def section_of(self, criterion_id: str) -> Section:
        for s in self.sections:
            if any(c.id == criterion_id for c in s.criteria):
                return s
        raise KeyError(criterion_id)

    def score_range(self) -> tuple[float, float]:
        """The lowest and highest overall score this scorecard can give."""
        if self.aggregation == "weighted_percent":
            return (0.0, 100.0)
        scale = self.sections[0].criteria[0].scale
        assert isinstance(scale, Rating)
        n = len(self.sections)
        return (float(n * scale.min), float(n * scale.max))

    def band_for(self, overall: float) -> Band:
        top = max(self.bands, key=lambda b: b.max)
        for band in self.bands:
            if band.min <= overall < band.max or (band is top and overall == band.max):
                return band
        raise ValueError(f"score {overall} is outside every band")
