"""``python -m benchmarks <name>``: run one benchmark, write its JSON under ``benchmarks/results/``.

Each benchmark is a module with ``HELP``, ``add_arguments(parser)`` and
``main(args) -> exit code``; add a new one (``served``, ``bulk``,
``baselines``) by listing its module in :data:`BENCHMARKS`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = {
    "kernel": "benchmarks.kernel",
    "served": "benchmarks.served",
    "baselines": "benchmarks.baselines",
    "encoding": "benchmarks.encoding",
    "bulk": "benchmarks.bulk",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="icp-scoring benchmarks (see benchmarks/README.md)"
    )
    commands = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    for name, module_name in BENCHMARKS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(
            name, help=module.HELP, description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        module.add_arguments(sub)
        sub.set_defaults(main=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.main(args))


if __name__ == "__main__":
    sys.exit(main())
