"""``icp``: compile, test, score and explain ICP profiles from the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa

from cli.output import Writer, answer_columns
from cli.records import (
    CHUNK_ROWS,
    Chunk,
    ColumnMapping,
    InputError,
    parse_key_values,
    prefetched,
    read_batches,
    read_mapping,
    read_record,
)
from cli.report import RunSummary
from cli.review_commands import add_review_commands as _review_commands
from compiler.bundle import Bundle, BundleFileError, save_bundle
from compiler.diagnostics import CompileError
from compiler.pipeline import open_bundle
from compiler.schema import DEFAULT_PROFILES_DIR
from runtime.engine import Scorer
from runtime.examples import run_examples
from runtime.finish import Results


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except CompileError as error:
        print(error.diagnostics.render(), file=sys.stderr)
        print(f"\n{len(error.diagnostics.items) + error.diagnostics.dropped} problem(s); nothing was written", file=sys.stderr)
        return 1
    except (InputError, BundleFileError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `icp ... | head`: the reader left; say nothing more
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (stays open until exit, as stdout would)
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="icp", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    compile_ = commands.add_parser("compile", help="validate profiles and write a bundle")
    compile_.add_argument("profiles", nargs="?", type=Path, default=DEFAULT_PROFILES_DIR)
    compile_.add_argument("-o", "--output", type=Path, help="bundle file to write (e.g. build/profiles.icpb)")
    compile_.set_defaults(run=_compile)

    test = commands.add_parser("test", help="run every profile's examples")
    test.add_argument("profiles", nargs="?", type=Path, default=DEFAULT_PROFILES_DIR)
    test.set_defaults(run=_test)

    score = commands.add_parser("score", help="score a CSV / JSON Lines / Parquet file")
    score.add_argument("input", type=Path)
    score.add_argument("-o", "--output", type=Path, required=True)
    score.add_argument("--profiles", type=Path, default=DEFAULT_PROFILES_DIR, help="profiles folder or bundle file")
    score.add_argument("--mapping", type=Path, help="YAML mapping of fields to input columns")
    score.add_argument("--summary-json", type=Path, help="also write the summary as JSON")
    score.add_argument("--quiet", action="store_true", help="no progress bar")
    score.set_defaults(run=_score)

    explain = commands.add_parser("explain", help="why one record scores as it does")
    explain.add_argument("pairs", nargs="*", help="field=value pairs (sets comma-separated)")
    explain.add_argument("--json", dest="record_json", help="the record as a JSON object")
    explain.add_argument("--profiles", type=Path, default=DEFAULT_PROFILES_DIR, help="profiles folder or bundle file")
    explain.add_argument("--format", choices=("text", "json"), default="text")
    explain.set_defaults(run=_explain)

    serve = commands.add_parser("serve", help="run the gRPC scoring service and /metrics")
    serve.add_argument("--profiles", type=Path, default=DEFAULT_PROFILES_DIR, help="profiles folder or bundle file")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 for all interfaces)")
    serve.add_argument("--port", type=int, default=50051)
    serve.add_argument("--metrics-port", type=int, default=9464, help="Prometheus /metrics port (-1: off)")
    serve.add_argument("--threads", type=int, default=8, help="gRPC handler threads per process")
    serve.add_argument("--workers", type=int, default=1, help="server processes sharing the port (SO_REUSEPORT; see docs/workers.md)")
    serve.add_argument("--max-batch-records", type=int, default=10_000)
    serve.add_argument("--max-message-bytes", type=int, default=16 * 1024 * 1024)
    serve.add_argument("--grace-seconds", type=float, default=10.0, help="how long SIGTERM lets in-flight calls finish")
    serve.add_argument("--admin-token-file", type=Path, help="enables the Admin service; callers send 'authorization: Bearer TOKEN'")
    serve.add_argument("--tls-cert", type=Path, help="server certificate (PEM); with --tls-key enables TLS")
    serve.add_argument("--tls-key", type=Path, help="server private key (PEM)")
    serve.add_argument("--tls-client-ca", type=Path, help="CA (PEM) whose client certificates are required (mutual TLS)")
    serve.add_argument("--log-level", default="INFO")
    serve.add_argument("--no-watch", dest="watch", action="store_false", help="do not reload when the profiles folder changes")
    serve.add_argument("--reload-debounce-seconds", type=float, default=0.5, help="reload once the folder has been still this long")
    serve.add_argument("--decision-log", type=Path, help="write one JSON line per scored record (decision, no field values)")
    serve.add_argument("--decision-log-max-bytes", type=int, default=50 * 1024 * 1024, help="rotate the decision log at this size")
    serve.add_argument("--decision-log-backups", type=int, default=5, help="rotated decision log files to keep")
    serve.add_argument("--decision-log-hash-salt-file", type=Path, help="log a salted SHA-256 of each record id instead of the id")
    serve.set_defaults(run=_serve)
    _review_commands(commands)
    return parser


def _compile(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    bundle = open_bundle(args.profiles)
    elapsed = time.perf_counter() - started
    meta = bundle.meta
    criteria = sum(len(p["criteria"]) + len(p["exclusions"]) for p in meta["profiles"])
    print(f"compiled {len(meta['profiles'])} profiles, {criteria} criteria, version {bundle.version} in {elapsed:.2f}s")
    for profile in meta["profiles"]:
        print(f"  {profile['id']:<28} priority {profile['priority']:>3}  {len(profile['criteria'])} criteria, "
              f"{len(profile['exclusions'])} exclusions, {profile['positive_points']} points, {len(profile['examples'])} examples")
    sizes = ", ".join(f"{f['name']} {len(f['values'])}" for f in meta["fields"] if "values" in f)
    print(f"  vocabulary sizes: {sizes}")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        save_bundle(bundle, args.output)
        print(f"wrote {args.output}")
    return 0


def _test(args: argparse.Namespace) -> int:
    bundle = open_bundle(args.profiles)
    ran, failures = run_examples(bundle)
    for failure in failures:
        print(failure.render())
    print(f"{ran - len(failures)} passed, {len(failures)} failed ({ran} examples, bundle {bundle.version})")
    return 1 if failures else 0


def _explain(args: argparse.Namespace) -> int:
    if args.record_json and args.pairs:
        raise InputError("give the record either as --json or as field=value pairs, not both")
    if not args.record_json and not args.pairs:
        raise InputError("give a record: field=value pairs (icp explain industry=software country=DE) or --json '{...}'")
    record = dict(read_record(args.record_json)) if args.record_json else parse_key_values(args.pairs)
    bundle = open_bundle(args.profiles)
    unknown = sorted(set(record) - {f["name"] for f in bundle.meta["fields"]} - {"id"})
    if unknown:
        raise InputError(f"unknown field(s) {', '.join(unknown)}; fields: {', '.join(f['name'] for f in bundle.meta['fields'])}")
    scored = Scorer(bundle).score([record], per_profile=True)
    answer = scored.results.answer(0, explain=True, per_profile=True)
    answer["problems"] = [{"field": p.field, "message": p.message} for p in scored.encoded.problems] + [
        {"field": name, "message": f"cannot read {raw!r}"}
        for name, quality in scored.encoded.quality.items()
        for raw in quality.unreadable_values
    ]
    if args.format == "json":
        print(json.dumps(answer, indent=2))
    else:
        print(_render_explanation(answer))
    return 0


def _render_explanation(answer: dict[str, Any]) -> str:
    status = "qualified" if answer["qualified"] else f"OUT OF ICP (closest profile; disqualified by {answer['disqualified_by']})"
    route = answer["action"] + (f" -> {answer['queue']}" if answer["queue"] else "") + (" (escalate)" if answer["escalate"] else "")
    explain = answer["explain"]
    lines = [
        f"profile   {answer['profile']}  [{status}]",
        f"score     {answer['score']}  ({explain['earned']} of {explain['positive_points']} points)   tier {answer['tier']}   coverage {answer['coverage']:.0%}",
        f"route     {route}",
        "",
        f"  {'outcome':<8} {'points':>6}  criterion",
    ]
    exclusion_words = {"holds": "EXCLUDES", "fails": "clear", "unknown": "unknown"}
    for reason in explain["reasons"]:
        if reason["role"] == "exclusion":
            lines.append(f"  {exclusion_words[reason['outcome']]:<8} {'':>6}  exclusion: {reason['label']}")
            continue
        flag = " (required)" if reason["required"] else ""
        lines.append(f"  {reason['outcome']:<8} {reason['points']:>3}/{reason['weight']:<2}  {reason['label']}{flag}")
    nxt = explain["next_tier"]
    if nxt:
        lines.append(f"\nnext tier {nxt['tier']}: needs {nxt['points_needed']} more points; could come from:")
        lines += [f"  +{c['weight']:<4} {c['label']} (now {c['outcome']})" for c in nxt["candidates"]]
    for problem in answer["problems"]:
        lines.append(f"\nwarning: field '{problem['field']}': {problem['message']} (read as missing)")
    others = [p for p in answer.get("profiles", []) if p["profile"] != answer["profile"]]
    if others:
        lines.append("\nother profiles:")
        lines += [f"  {p['profile']:<28} {p['score']:>5}  tier {p['tier']}{'' if p['qualified'] else '  (not qualified)'}" for p in others]
    return "\n".join(lines)


def _serve(args: argparse.Namespace) -> int:
    import logging

    from server.app import ServerConfig, TlsConfig, serve
    from server.decisions import DecisionLogConfig
    from server.scoring import Limits
    from server.workers import LOG_FORMAT

    logging.basicConfig(level=args.log_level.upper(), format=LOG_FORMAT)
    if args.workers < 1 or args.threads < 1:
        raise InputError("--workers and --threads must be at least 1")
    if (args.tls_cert is None) != (args.tls_key is None):
        raise InputError("--tls-cert and --tls-key go together")
    tls = TlsConfig(args.tls_cert, args.tls_key, args.tls_client_ca) if args.tls_cert else None
    token = args.admin_token_file.read_text().strip() if args.admin_token_file else None
    decision_log = None
    if args.decision_log is not None:
        if args.decision_log_max_bytes < 0 or args.decision_log_backups < 0:
            raise InputError("--decision-log-max-bytes and --decision-log-backups must not be negative")
        salt_file = args.decision_log_hash_salt_file
        try:
            if salt_file is not None and not salt_file.read_bytes().strip():
                raise InputError(f"{salt_file}: the hash salt file is empty")
        except OSError as error:
            raise InputError(f"{salt_file}: {error.strerror}") from error
        decision_log = DecisionLogConfig(args.decision_log, args.decision_log_max_bytes, args.decision_log_backups, salt_file)
    elif args.decision_log_hash_salt_file is not None:
        raise InputError("--decision-log-hash-salt-file needs --decision-log")
    config = ServerConfig(
        source=args.profiles, host=args.host, port=args.port,
        metrics_port=None if args.metrics_port < 0 else args.metrics_port,
        limits=Limits(args.max_batch_records, args.max_message_bytes), threads=args.threads,
        workers=args.workers, admin_token=token or None, tls=tls, grace_seconds=args.grace_seconds,
        watch=args.watch, reload_debounce_seconds=args.reload_debounce_seconds,
        decision_log=decision_log,
    )
    return serve(config)


def _score(args: argparse.Namespace) -> int:
    bundle = open_bundle(args.profiles)
    header, chunks = read_batches(args.input)
    mapping = read_mapping(args.mapping, header, bundle.meta["fields"])
    if not mapping.columns:
        raise InputError(f"{args.input}: no column maps to a field; write a mapping file (see examples/mappings/)")
    scorer = Scorer(bundle, mapping.scales)
    summary = RunSummary()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # Three stages overlap: a thread reads ahead, this one scores, another writes (Arrow and the
    # kernel release the GIL); output order is input order, one chunk written at a time.
    with Writer(args.output, header) as writer, ThreadPoolExecutor(1, thread_name_prefix="icp-writer") as background:
        written: Future[None] | None = None
        for chunk in prefetched(chunks):
            scored = scorer.score_columns(mapping.to_columns(chunk), chunk.size)
            _tally(summary, scored.results, scored.encoded.quality, len(scored.encoded.problems), bundle)
            _warn_wrong_shapes(scored.encoded.problems, chunk, mapping, summary.records - chunk.size)
            answers = answer_columns(scored.results, bundle)
            if written is not None:
                written.result()
            written = background.submit(writer.write, chunk, answers)
            if not args.quiet and sys.stderr.isatty():
                rate = summary.records / max(time.perf_counter() - started, 1e-9)
                print(f"\r  {summary.records:,} records  {rate:,.0f}/s", end="", file=sys.stderr)
        if written is not None:
            written.result()
    if not args.quiet and sys.stderr.isatty():
        print(file=sys.stderr)
    elapsed = time.perf_counter() - started
    print(summary.render(set(mapping.columns)))
    print(f"\nwrote {args.output} in {elapsed:.2f}s ({summary.records / max(elapsed, 1e-9):,.0f} records/s), bundle {bundle.version}")
    if args.summary_json:
        args.summary_json.write_text(json.dumps(summary.as_dict(set(mapping.columns)), indent=2))
    return 0


_WRONG_SHAPE_WARNINGS = 5


def _warn_wrong_shapes(problems: list[Any], chunk: Chunk, mapping: ColumnMapping, offset: int) -> None:
    """Name the first few wrong-shaped values by record (1-based row, and id if mapped) and field."""
    for problem in problems[:_WRONG_SHAPE_WARNINGS] if offset < 10 * CHUNK_ROWS else ():
        who = f"record {offset + problem.record + 1}"
        if mapping.id_column:
            who += f" (id {chunk.value(mapping.id_column, problem.record)})"
        print(f"warning: {who}, field '{problem.field}': {problem.message}; read as missing", file=sys.stderr)


def _tally(summary: RunSummary, results: Results, quality: Any, problems: int, bundle: Bundle) -> None:
    ids = [p["id"] for p in bundle.meta["profiles"]]
    summary.records += results.size
    summary.problems += problems
    summary.out_of_icp += int((results.kernel.qualified == 0).sum())
    tiers = _counted(profile=results.kernel.best, tier=results.tier, qualified=results.kernel.qualified.astype(bool))
    for row in tiers:
        summary.tiers[(ids[row["profile"]], row["tier"], row["qualified"])] += row["count_all"]
    for row in _counted(action=results.action, queue=results.queue):
        summary.routes[(row["action"], row["queue"])] += row["count_all"]
    summary.add_quality(quality)


def _counted(**columns: Any) -> list[dict[str, Any]]:
    """Distinct combinations of the columns' values with their counts (grouped in Arrow, not per record)."""
    table = pa.table({name: pa.array(values) for name, values in columns.items()})
    return table.group_by(list(columns)).aggregate([([], "count_all")]).to_pylist()


if __name__ == "__main__":
    sys.exit(main())
