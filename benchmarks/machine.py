"""What a benchmark ran on, recorded beside its numbers (shared by every benchmark)."""

from __future__ import annotations

import os
import platform
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def machine_info(**extra: Any) -> dict[str, Any]:
    """CPU model, core counts, platform, Python, load average at the start, plus ``extra``."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        **extra,
    }


def result_header(name: str, started: float, machine: dict[str, Any]) -> dict[str, Any]:
    """The common head of every benchmark's JSON: name, when it started, how long it took, and the
    machine (with the load average at the end added). ``started`` is a ``time.perf_counter()``."""
    duration = time.perf_counter() - started
    machine["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    began = datetime.now(UTC) - timedelta(seconds=duration)
    return {
        "benchmark": name,
        "started": began.isoformat(timespec="seconds"),
        "duration_s": round(duration, 2),
        "machine": machine,
    }
