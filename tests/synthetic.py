"""Synthetic evaluations for dashboard, drift and bench: a seeded world with one lenient evaluator.

Scores come from real answers through `qa.scoring.score`; a few hundred answer sets are scored
once and reused, so 100,000 evaluations build in seconds.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from qa.models import Employee, Evaluation
from qa.scorecard_model import Rating, Scorecard, YesNo, YesNoNA
from qa.scoring import score

TEAMS = ("north", "south", "east")
SITES = ("lyon", "paris", "lille", "nantes")
EVALUATORS = ("ana", "bruno", "chloe", "david", "emma", "farid")


def employees(count: int) -> list[Employee]:
    return [
        Employee(id=f"E{i:04d}", display_name=f"Employee {i}", team=TEAMS[i % len(TEAMS)], site=SITES[i % len(SITES)])
        for i in range(count)
    ]


def _answers(card: Scorecard, skill: float, rng: random.Random) -> dict[str, Any]:
    """Answers of someone who gets each criterion right with probability `skill` (0..1)."""
    out: dict[str, Any] = {}
    for c in card.criteria():
        # Critical criteria are rarely failed in real life; failing them often would zero most scores.
        good = rng.random() < (max(skill, 0.97) if c.critical else skill)
        if isinstance(c.scale, (YesNo, YesNoNA)):
            out[c.id] = "yes" if good else "no"
        elif isinstance(c.scale, Rating):
            out[c.id] = c.scale.max if good else rng.randint(c.scale.min, c.scale.max - 1)
        else:
            out[c.id] = c.scale.max if good else rng.randint(0, c.scale.max - 1)
    return out


def evaluations(
    card: Scorecard,
    version: str,
    count: int,
    *,
    seed: int = 0,
    n_employees: int = 200,
    lenient: str | None = "ana",
    months: int = 6,
    variants: int = 400,
) -> tuple[list[Employee], list[Evaluation]]:
    """`count` approved evaluations on `card`; `lenient` scores every criterion right far more often."""
    rng = random.Random(seed)
    people = employees(n_employees)
    skills = [0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]
    # Pre-scored answer sets per skill level: scoring 100,000 times would dominate the bench.
    pool = {s: [] for s in skills}
    for s in skills:
        for _ in range(variants // len(skills)):
            answers = _answers(card, s, rng)
            pool[s].append((answers, score(card, answers).to_dict()))
    start = datetime(2025, 1, 1, 9, tzinfo=UTC)
    out = []
    for i in range(count):
        person = people[rng.randrange(n_employees)]
        evaluator = EVALUATORS[rng.randrange(len(EVALUATORS))]
        level = 2 * (int(person.id[1:]) % 3) + rng.choice((0, 0, 1))
        if evaluator == lenient:  # about +8 points: every criterion right 10 points more often
            level = min(level + 2, len(skills) - 1)
        answers, snapshot = rng.choice(pool[skills[level]])
        out.append(
            Evaluation.model_construct(
                id=f"ev{i:06d}",
                scorecard_id=card.id,
                scorecard_version=version,
                evaluator=evaluator,
                employee_id=person.id,
                interaction_id=f"I{i:06d}",
                visit=None,
                channel="phone",
                started_at=start + timedelta(minutes=(i * 37) % (months * 30 * 24 * 60)),
                submitted_at=None,
                updated_at=None,
                answers=answers,
                comments={},
                debrief={},
                photos=[],
                score=snapshot,
                status="approved",
            )
        )
    return people, out
