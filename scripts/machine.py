"""The machine line every benchmark script prints, so recorded figures say where they came from."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    """e.g. 'AMD EPYC, 2 logical cores, load average 0.31, Python 3.11.7'"""
    return (f"{cpu_model()}, {os.cpu_count()} logical cores, load average {os.getloadavg()[0]:.2f}, "
            f"Python {platform.python_version()}")
