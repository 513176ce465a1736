"""Activating a bundle the way OPA activates one: compile off the request path, run the profiles'
examples, warm the kernels, swap one reference; on any failure keep serving the old bundle and
count the outcome."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from compiler.bundle import BundleFileError
from compiler.diagnostics import CompileError
from compiler.pipeline import open_bundle
from runtime.examples import run_examples
from runtime.kernels import SMALL_BATCH
from server.metrics import Metrics
from server.state import Serving, ServingHolder

log = logging.getLogger("icp.server")


class ActivationError(Exception):
    """A bundle that must not serve: diagnostics or failed examples, rendered for people."""


@dataclass(frozen=True)
class ReloadOutcome:
    activated: bool
    version: str
    diagnostics: str


def prepare(source: Path) -> Serving:
    """Compile (or load) ``source``, run its examples and warm the kernels: ready to swap in."""
    try:
        bundle = open_bundle(source)
    except CompileError as error:
        raise ActivationError(error.diagnostics.render()) from error
    except BundleFileError as error:
        raise ActivationError(str(error)) from error
    ran, failures = run_examples(bundle)
    if failures:
        raise ActivationError("\n".join(f.render() for f in failures) + f"\n{len(failures)} of {ran} examples failed")
    serving = Serving.of(bundle)
    warm(serving)
    return serving


def warm(serving: Serving) -> None:
    """Run both kernels once (loading them from Numba's cache or compiling them) before serving."""
    serving.scorer.score([{}, {"employees": "51-200", "country": "US"}], per_profile=True)
    serving.scorer.score([{}] * (SMALL_BATCH + 1))  # the GIL-releasing kernel of larger batches too


class Reloader:
    """Serialises reloads from any trigger (file watcher, SIGHUP, admin RPC)."""

    def __init__(self, source: Path, holder: ServingHolder, metrics: Metrics):
        self.source, self.holder, self.metrics = source, holder, metrics
        self._lock = threading.Lock()

    def activate_first(self) -> None:
        """The start-up activation: failures propagate (a server with no bundle must not start)."""
        with self._lock:
            serving = prepare(self.source)
            self.holder.swap(serving)
            self.metrics.serving(serving.bundle.version, None, serving.activated_at)

    def reload(self) -> ReloadOutcome:
        with self._lock:
            current = self.holder.current.bundle.version
            try:
                serving = prepare(self.source)
            except ActivationError as error:
                self.metrics.reloads.labels("failed").inc()
                log.warning("reload of %s failed; still serving %s:\n%s", self.source, current, error)
                return ReloadOutcome(False, current, str(error))
            except Exception as error:  # e.g. a file removed mid-read: still a failed reload, never a crash
                self.metrics.reloads.labels("failed").inc()
                log.exception("reload of %s failed unexpectedly; still serving %s", self.source, current)
                return ReloadOutcome(False, current, f"unexpected error: {error}")
            if serving.bundle.version == current:
                self.metrics.reloads.labels("unchanged").inc()
                return ReloadOutcome(True, current, "")
            self.holder.swap(serving)
            self.metrics.serving(serving.bundle.version, current, time.time())
            self.metrics.reloads.labels("activated").inc()
            log.info("activated bundle %s (was %s)", serving.bundle.version, current)
            return ReloadOutcome(True, serving.bundle.version, "")
