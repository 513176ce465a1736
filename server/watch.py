"""Hot reload: poll a profiles folder and reload when it has changed and then stayed still.

No dependency: every ``poll_seconds`` the watcher takes a snapshot (path → mtime, size, inode) of
the folder's ``*.yaml`` / ``*.yml`` files, recursively (so taxonomies count), and once a change has
been followed by ``debounce_seconds`` without another it calls ``on_change`` (the
:class:`~server.reload.Reloader`) on its own thread, never on the request path. A half-saved file
just fails validation there and the serving bundle stays; the finished save is another change.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("icp.server")

PROFILE_SUFFIXES = (".yaml", ".yml")

Snapshot = dict[str, tuple[int, int, int]]


def snapshot(folder: Path) -> Snapshot:
    """Every profile-language file under ``folder`` (hidden files and folders skipped)."""
    found: Snapshot = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith(".") or not name.endswith(PROFILE_SUFFIXES):
                continue
            path = os.path.join(root, name)
            try:
                stat = os.stat(path)
            except OSError:  # removed between the listing and the stat: the next poll sees it gone
                continue
            found[path] = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    return found


class FolderWatcher:
    """A daemon thread; :meth:`stop` ends it within one poll."""

    def __init__(
        self,
        folder: Path,
        on_change: Callable[[], Any],
        poll_seconds: float = 0.25,
        debounce_seconds: float = 0.5,
    ):
        self.folder, self.on_change = folder, on_change
        self.poll_seconds, self.debounce_seconds = poll_seconds, debounce_seconds
        self._stop = threading.Event()
        self._seen = snapshot(folder)  # the baseline: taken before the first activation reads the folder
        self._thread = threading.Thread(target=self._run, name=f"icp-profile-watcher:{folder}", daemon=True)

    def start(self) -> FolderWatcher:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        changed_at: float | None = None  # when the last unreloaded change was seen
        while not self._stop.wait(self.poll_seconds):
            current = snapshot(self.folder)
            now = time.monotonic()
            if current != self._seen:
                self._seen, changed_at = current, now
                continue
            if changed_at is not None and now - changed_at >= self.debounce_seconds:
                changed_at = None
                self._reload()

    def _reload(self) -> None:
        log.info("profiles in %s changed; reloading", self.folder)
        try:
            self.on_change()
        except Exception:  # keep watching: the serving bundle is untouched
            log.exception("reload of %s raised; still serving the previous bundle", self.folder)
