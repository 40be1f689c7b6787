"""The `qa` command: parses arguments, calls the domain modules, prints; never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qa.errors import QAError

Handler = Callable[[argparse.Namespace], int]
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def command(register: Callable[[argparse._SubParsersAction], None]) -> Callable[[argparse._SubParsersAction], None]:
    """Collect a function that adds one sub-command to the parser (keeps each area's CLI apart)."""
    COMMANDS.append(register)
    return register


def data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data or os.environ.get("QA_DATA_DIR") or "data")


def print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False))


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Qualiterrain: service-quality monitoring.")
    parser.add_argument("--data", help="data folder of the store (env QA_DATA_DIR, default ./data)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _load_command_modules(_only_module_for(argv))
    for register in COMMANDS:
        register(sub)
    return parser


def _only_module_for(argv: Sequence[str] | None) -> str | None:
    """The one CLI module a command line needs, so `qa setup` does not import scipy and pandas
    for every other command (start-up time of `make run`); None means all (help, unknown)."""
    words = list(sys.argv[1:] if argv is None else argv)
    while words[:1] and words[0].startswith("--data"):
        words = words[1:] if "=" in words[0] else words[2:]
    return COMMAND_MODULES.get(words[0]) if words else None


def _load_command_modules(only: str | None = None) -> None:
    """Import the modules that register sub-commands (each area keeps its CLI beside its code)."""
    import importlib

    COMMANDS.clear()  # registration order follows CLI_MODULES, whatever was imported before
    for name in CLI_MODULES if only is None else (only,):
        module = sys.modules.get(name)
        if module is not None:
            COMMANDS.append(module.register)
            continue
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a missing dependency inside the module is a real error
                raise


# The module that registers each top-level command (kept in step with CLI_MODULES by a test).
COMMAND_MODULES = {
    "scorecards": "qa.cli_scorecards",
    "score": "qa.cli_scorecards",
    "setup": "qa.cli_store",
    "demo": "qa.cli_store",
    "users": "qa.cli_store",
    "employees": "qa.cli_store",
    "evaluations": "qa.cli_store",
    "export": "qa.cli_store",
    "backup": "qa.cli_store",
    "restore": "qa.cli_store",
    "interactions": "qa.cli_sampling",
    "sample": "qa.cli_sampling",
    "site": "qa.cli_site",
    "calibration": "qa.cli_calibration",
    "drift": "qa.cli_calibration",
    "dispute": "qa.cli_calibration",
}

# Each of these modules registers its sub-commands with @command when imported.
CLI_MODULES = (
    "qa.cli_scorecards",
    "qa.cli_store",
    "qa.cli_sampling",
    "qa.cli_site",
    "qa.cli_calibration",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except QAError as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: still one clear line for the user, the traceback on request
        if os.environ.get("QA_DEBUG"):
            raise
        print(f"qa: internal error: {type(exc).__name__}: {exc} (QA_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
