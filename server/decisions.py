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
        lines = [json.dumps(entry, separators=(",", ":")) for entry in decisions(serving, ids, scored, rows, when, self.salt)]
        self._write(lines)

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


def decisions(
    serving: Serving, ids: Sequence[str], scored: Scored, rows: Sequence[int], when: str, salt: bytes | None = None
) -> list[dict[str, Any]]:
    """The log entries for records ``rows`` of a scored batch (only the listed keys; no field values)."""
    results = scored.results
    profiles = serving.bundle.meta["profiles"]
    items = [[item["id"] for item in p["criteria"] + p["exclusions"]] for p in profiles]
    version = serving.bundle.version
    entries = []
    for i in rows:
        p = int(results.kernel.best[i])
        outcomes = results.reasons[i]
        record_id = ids[i]
        entry: dict[str, Any] = {"time": when}
        if salt is None:
            entry["id"] = record_id
        else:
            entry["id_sha256"] = hash_id(salt, record_id)
        entry.update(
            version=version,
            profile=profiles[p]["id"],
            qualified=bool(results.kernel.qualified[i]),
            score=int(results.score_tenths[i]) / 10,
            tier=str(results.tier[i]),
            route={"action": str(results.action[i]), "queue": results.queue[i] or "", "escalate": bool(results.escalate[i])},
            reasons=";".join(f"{cid}={OUTCOME_NAMES[int(o)]}" for cid, o in zip(items[p], outcomes, strict=False)),
        )
        entries.append(entry)
    return entries
