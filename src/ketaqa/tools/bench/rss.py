"""Peak memory of this process; standard library only, so the baseline child stays plain."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_kb() -> int:
    """High-water resident set size of this process, in KiB."""
    # VmHWM first: Linux carries ru_maxrss over fork and exec, so a child started by a big
    # parent reports the parent's peak there
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
