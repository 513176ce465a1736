"""The serving bundle: one reference, swapped atomically. A request reads it once, so it never
mixes two versions."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from compiler.bundle import Bundle
from runtime.engine import Scorer
from server.errors import Unavailable


@dataclass(frozen=True)
class Serving:
    bundle: Bundle
    scorer: Scorer
    field_types: dict[str, str] = field(hash=False)
    activated_at: float = 0.0
    profile_ids: tuple[str, ...] = ()  # by kernel profile index (the metrics' labels)

    @classmethod
    def of(cls, bundle: Bundle) -> Serving:
        types = {f["name"]: f["type"] for f in bundle.meta["fields"]}
        return cls(bundle, Scorer(bundle), types, time.time(), tuple(bundle.profile_ids))


class ServingHolder:
    """Empty until the first bundle is warm (requests then get UNAVAILABLE, health NOT_SERVING)."""

    def __init__(self, serving: Serving | None = None):
        self._serving = serving
        self._swap_lock = threading.Lock()

    @property
    def current(self) -> Serving:
        serving = self._serving
        if serving is None:
            raise Unavailable("the server is still compiling and warming its bundle; retry shortly")
        return serving

    def swap(self, serving: Serving) -> Serving | None:
        """Activate ``serving``; returns the one it replaced."""
        with self._swap_lock:
            previous, self._serving = self._serving, serving
        return previous
