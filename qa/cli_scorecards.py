"""CLI commands about scorecards: `qa scorecards validate|show|list` and `qa score`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from qa.cli import command, print_json
from qa.errors import AnswerError, Problem, QAError, ScorecardError
from qa.scorecards import DEFAULT_DIR, load_all, load_scorecard, resolve, scorecard_files
from qa.scoring import score


@command
def register(sub: argparse._SubParsersAction) -> None:
    cards = sub.add_parser("scorecards", help="validate, list and show scorecards")
    csub = cards.add_subparsers(dest="action", required=True, metavar="ACTION")
    validate = csub.add_parser("validate", help="validate scorecard files (exit 1 when any is invalid)")
    validate.add_argument("paths", nargs="*", default=[str(DEFAULT_DIR)], help="files or folders")
    validate.set_defaults(handler=cmd_validate)
    show = csub.add_parser("show", help="print one scorecard with its version")
    show.add_argument("id", help="scorecard id or path")
    show.add_argument("--json", action="store_true")
    show.add_argument("--lang", choices=["fr", "en"], default="fr")
    show.set_defaults(handler=cmd_show)
    listing = csub.add_parser("list", help="one line per scorecard: id, version, criteria, title")
    listing.add_argument("--lang", choices=["fr", "en"], default="fr")
    listing.set_defaults(handler=cmd_list)

    sc = sub.add_parser("score", help="score answers against a scorecard")
    sc.add_argument("scorecard", help="scorecard id or path")
    sc.add_argument("answers", help="YAML or JSON file: {criterion_id: value}")
    sc.add_argument("--json", action="store_true")
    sc.set_defaults(handler=cmd_score)


def cmd_validate(args: argparse.Namespace) -> int:
    files = scorecard_files(args.paths)
    problems: list[Problem] = []
    for path in files:
        if not path.exists():
            problems.append(Problem(str(path), 1, 1, "no such file or folder"))
            continue
        try:
            loaded = load_scorecard(path)
        except ScorecardError as exc:
            problems += exc.problems
            continue
        print(f"{path}: ok ({loaded.id}, version {loaded.version}, {len(loaded.card.criteria())} criteria)")
    for problem in problems:
        print(problem, file=sys.stderr)
    if not files:
        print("qa: error: no scorecard files found", file=sys.stderr)
        return 1
    return 1 if problems else 0


def cmd_list(args: argparse.Namespace) -> int:
    for loaded in load_all().values():
        card = loaded.card
        print(f"{card.id}\t{loaded.version}\t{len(card.criteria())} criteria\t{card.title.get(args.lang)}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    loaded = resolve(args.id)
    card = loaded.card
    if args.json:
        print_json({"id": card.id, "version": loaded.version, "path": str(loaded.path), **card.model_dump(mode="json")})
        return 0
    lang = args.lang
    print(f"{card.title.get(lang)} [{card.id} @ {loaded.version}]")
    print(card.description.get(lang))
    print(f"channels: {', '.join(card.channels)}; aggregation: {card.aggregation}")
    for section in card.sections:
        print(f"\n## {section.label.get(lang)} ({section.id})")
        for c in section.criteria:
            flags = " CRITICAL" if c.critical else ""
            print(f"  - {c.id}: {c.label.get(lang)} [{c.scale.type}, weight {c.weight:g}{flags}]")
    print("\nbands: " + ", ".join(f"{b.id} [{b.min:g}, {b.max:g}]" for b in card.bands))
    return 0


class AnswersLoader(yaml.SafeLoader):
    """YAML where `yes`, `no`, `on` and `off` stay words: they are answers, not booleans."""


AnswersLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_answers(path: str) -> dict[str, Any]:
    """Answers from a YAML or JSON mapping; errors name the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QAError(f"{path}: cannot read the answers: {exc}") from None
    try:
        data = json.loads(text) if path.endswith(".json") else yaml.load(text, Loader=AnswersLoader)  # noqa: S506 (a SafeLoader subclass)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise QAError(f"{path}: not valid {'JSON' if path.endswith('.json') else 'YAML'}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise QAError(f"{path}: answers must be a mapping of criterion id -> value")
    return data


def cmd_score(args: argparse.Namespace) -> int:
    loaded = resolve(args.scorecard)
    answers = read_answers(args.answers)
    try:
        result = score(loaded.card, answers)
    except AnswerError as exc:
        details = "; ".join(f"criterion '{k}': {v}" for k, v in exc.messages.items())
        raise QAError(f"{args.answers}: {details}") from None
    if args.json:
        print_json({"scorecard": loaded.id, "version": loaded.version, **result.to_dict()})
        return 0
    card = loaded.card
    overall = "N/A" if result.overall is None else f"{result.overall:.1f}"
    print(f"{card.title.fr} [{loaded.id} @ {loaded.version}]")
    print(f"overall: {overall}  band: {result.band or 'N/A'}")
    if result.critical_failed:
        print("CRITICAL FAILURE: " + ", ".join(result.critical_failures))
    for section in card.sections:
        s = result.sections[section.id]
        value = "N/A" if s.score is None else f"{s.score:.2f}"
        print(f"  {section.id}: {value}")
    return 0
