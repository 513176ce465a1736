"""The decision log (off by default): one JSON line per scored record, for audit and win/loss review.

A line holds only the decision, never the record's field values:

    {"time": "2025-01-31T12:00:00.123Z", "id": "acct-42", "version": "a819405c5ffd768f",
     "profile": "enterprise-saas", "qualified": true, "score": 95.0, "tier": "A",
     "route": {"action": "aql", "queue": "na-enterprise", "escalate": false},
     "reasons": "industry=holds;headcount=holds;..."}

With a salt the id is replaced by ``"id_sha256"``: SHA-256 of salt + id (hex), stable for one salt,
so a decision can be joined to the caller's own records without the log holding the id. Files
rotate by size (``RotatingFileHandler`` on a dedicated logger that does not propagate, so these
lines never reach the process log).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

import numpy as np

from runtime.engine import Scored
from runtime.finish import OUTCOME_NAMES
from server.state import Serving

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_BACKUPS = 5
MAX_WRITE_BYTES = 64 * 1024  # lines are written in chunks of at most this (and at most a quarter file)

_instances = itertools.count()


@dataclass(frozen=True)
class DecisionLogConfig:
    path: Path
    max_bytes: int = DEFAULT_MAX_BYTES  # 0: never rotate
    backups: int = DEFAULT_BACKUPS
    hash_salt_file: Path | None = None  # set: log a salted SHA-256 of each id instead of the id


def hash_id(salt: bytes, record_id: str) -> str:
    return hashlib.sha256(salt + record_id.encode("utf-8")).hexdigest()


def read_salt(path: Path) -> bytes:
    salt = path.read_bytes().strip()
    if not salt:
        raise ValueError(f"{path}: the decision log's hash salt file is empty")
    return salt


class DecisionLog:
    """A :class:`~server.scoring.DecisionSink` writing JSON lines to a size-rotated file."""

    def __init__(
        self,
        path: Path,
        max_bytes: int = DEFAULT_MAX_BYTES,
        backups: int = DEFAULT_BACKUPS,
        salt: bytes | None = None,
    ):
        if max_bytes < 0 or backups < 0:
            raise ValueError("the decision log's max bytes and backups must not be negative")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.salt = path, salt
        self._chunk = min(MAX_WRITE_BYTES, max(max_bytes // 4, 1)) if max_bytes else MAX_WRITE_BYTES
        self._handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._logger = logging.getLogger(f"icp.decisions.{next(_instances)}")
        self._logger.propagate = False
        self._logger.setLevel(logging.INFO)
        self._logger.addHandler(self._handler)
        self._closed = False
        self._close_lock = threading.Lock()

    @classmethod
    def open(cls, config: DecisionLogConfig) -> DecisionLog:
        salt = read_salt(config.hash_salt_file) if config.hash_salt_file else None
        return cls(config.path, config.max_bytes, config.backups, salt)

    def record(self, serving: Serving, ids: Sequence[str], scored: Scored, rows: Sequence[int]) -> None:
        if self._closed:
            return
        when = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self._write(decision_lines(serving, ids, scored, rows, when, self.salt))

    def _write(self, lines: list[str]) -> None:
        """Chunks of whole lines (one handler call each, so a file never splits a line)."""
        chunk: list[str] = []
        size = 0
        for line in lines:  # ASCII (json.dumps escapes the rest), so characters are bytes
            if chunk and size + len(line) + 1 > self._chunk:
                self._logger.info("\n".join(chunk))
                chunk, size = [], 0
            chunk.append(line)
            size += len(line) + 1
        if chunk:
            self._logger.info("\n".join(chunk))

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._logger.removeHandler(self._handler)
            self._handler.close()


def decision_lines(
    serving: Serving, ids: Sequence[str], scored: Scored, rows: Sequence[int], when: str, salt: bytes | None = None
) -> list[str]:
    """The JSON lines for records ``rows`` of a scored batch: only the listed keys, no field values.

    Written by hand (the same text as ``json.dumps(entry, separators=(",", ":"))``) because the
    log is on the request path: per record only the id is escaped; the rest is cached per batch.
    """
    results, kernel = scored.results, scored.results.kernel
    profiles = serving.bundle.meta["profiles"]
    items = [[item["id"] for item in p["criteria"] + p["exclusions"]] for p in profiles]
    index = np.asarray(rows, dtype=np.intp)
    columns = zip(
        index.tolist(), kernel.best[index].tolist(), kernel.qualified[index].tolist(), results.score_tenths[index].tolist(),
        results.tier[index].tolist(), results.action[index].tolist(), results.queue[index].tolist(),
        results.escalate[index].tolist(), results.reasons[index].tolist(), strict=True,
    )
    head = f'{{"time":{json.dumps(when)},'
    version = f'"version":{json.dumps(serving.bundle.version)},'
    decided: dict[tuple[Any, ...], str] = {}  # (profile, qualified, tier, route) → its JSON
    reasons: dict[tuple[int, tuple[int, ...]], str] = {}
    lines = []
    for i, p, qualified, tenths, tier, action, queue, escalate, outcomes in columns:
        record_id = ids[i]
        who = f'"id":{json.dumps(record_id)},' if salt is None else f'"id_sha256":"{hash_id(salt, record_id)}",'
        key = (p, qualified, tier, action, queue, escalate)
        decision = decided.get(key)
        if decision is None:
            route = {"action": str(action), "queue": queue or "", "escalate": bool(escalate)}
            decision = decided[key] = (
                f'"profile":{json.dumps(profiles[p]["id"])},"qualified":{json.dumps(bool(qualified))},'
                f'"score":%s,"tier":{json.dumps(str(tier))},"route":{json.dumps(route, separators=(",", ":"))},'
            )
        outcome_key = (p, tuple(outcomes))
        because = reasons.get(outcome_key)
        if because is None:
            text = ";".join(f"{cid}={OUTCOME_NAMES[o]}" for cid, o in zip(items[p], outcomes, strict=False))
            because = reasons[outcome_key] = f'"reasons":{json.dumps(text)}}}'
        lines.append(head + who + version + decision % repr(tenths / 10) + because)
    return lines
