"""``python -m benchmarks run [--quick]`` and ``python -m benchmarks report``."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from benchmarks._report import DOC_PATH, default_results, write_report
from benchmarks._runner import MEMORY_MODES, PARTS, RESULTS_DIR, Runner, Settings
from benchmarks._tools import TOOLS


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="whynet against KerasTuner and hand-written Optuna loops.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the benchmarks, write JSON results and the report")
    run.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 1 seed, 3 trials, 2 epochs (numbers mean nothing)",
    )
    run.add_argument(
        "--tools", type=_csv, help=f"tools to run on every data set: {','.join(TOOLS)}"
    )
    run.add_argument(
        "--datasets", type=_csv, help="data sets to search, in order (default digits,breast_cancer)"
    )
    run.add_argument("--seeds", type=_csv, help="e.g. 0,1,2")
    run.add_argument("--parts", type=_csv, help=f"subset of: {','.join(PARTS)}")
    run.add_argument(
        "--memory-modes",
        type=_csv,
        help=f"memory part, subset of: {','.join(MEMORY_MODES)} (full default: launcher)",
    )
    run.add_argument(
        "--max-minutes",
        type=float,
        help="skip measurements not started after this many minutes (full default 57; 0: none)",
    )
    run.add_argument("--out", type=Path, help="results JSON (default benchmarks/results/MODE.json)")
    run.add_argument(
        "--doc",
        type=Path,
        default=DOC_PATH,
        help="where the report goes (a subset run renders one only when this is given)",
    )
    run.add_argument("--no-report", action="store_true", help="write the JSON only")
    run.add_argument("--keep-workdirs", action="store_true", help="keep each run's temp folder")
    report = sub.add_parser("report", help="render the report from JSON results")
    report.add_argument(
        "--results",
        type=Path,
        help="results JSON (default: benchmarks/results/full.json, else quick.json)",
    )
    report.add_argument("--doc", type=Path, default=DOC_PATH, help="where the report goes")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "report":
        results = args.results or default_results()
        if results is None or not results.is_file():
            print("no results yet: run `python -m benchmarks run` first", file=sys.stderr)
            return 2
        write_report(results, args.doc)
        print(f"wrote {args.doc} from {results}")
        return 0
    settings = Settings.quick() if args.quick else Settings.full()
    overrides: dict[str, object] = {}
    if args.tools:
        unknown = sorted(set(args.tools) - set(TOOLS))
        if unknown:
            print(f"unknown tools {unknown}; known: {', '.join(TOOLS)}", file=sys.stderr)
            return 2
    if args.parts:
        unknown = sorted(set(args.parts) - set(PARTS))
        if unknown:
            print(f"unknown parts {unknown}; known: {', '.join(PARTS)}", file=sys.stderr)
            return 2
        overrides["parts"] = args.parts
    if args.memory_modes:
        unknown = sorted(set(args.memory_modes) - set(MEMORY_MODES))
        if unknown:
            print(
                f"unknown memory modes {unknown}; known: {', '.join(MEMORY_MODES)}",
                file=sys.stderr,
            )
            return 2
        overrides["memory_modes"] = args.memory_modes
    if args.seeds:
        overrides["seeds"] = tuple(int(s) for s in args.seeds)
    if args.max_minutes is not None:
        overrides["max_minutes"] = args.max_minutes or None
    settings = dataclasses.replace(settings, **overrides)  # type: ignore[arg-type]
    settings = settings.select(datasets=args.datasets, tools=args.tools)
    # A subset must not overwrite the results (and page) of a whole run.
    subset = any((args.tools, args.datasets, args.seeds, args.parts))
    name = f"{settings.mode}-subset.json" if subset else f"{settings.mode}.json"
    out = args.out or RESULTS_DIR / name
    runner = Runner(settings=settings, out_path=out, keep_workdirs=args.keep_workdirs)
    runner.run_all()
    print(f"wrote {out} ({runner.elapsed() / 60:.1f} min)")
    if subset and args.doc == DOC_PATH:
        print(f"a subset: render it with `python -m benchmarks report --results {out} --doc PATH`")
    elif not args.no_report:
        write_report(out, args.doc)
        print(f"wrote {args.doc}")
    failed = [r for r in runner.runs if r.get("status") == "error"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
