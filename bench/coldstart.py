"""Cold start: new processes, interleaved, median of N: `python -c pass`, `mktows-run
--help`, `mktows-run validate playbooks/welcome.yml` (with the schema cache warm)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _time(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def measure(repeats: int = 9) -> dict[str, float]:
    cases = {
        "python_pass_s": [sys.executable, "-c", "pass"],
        "help_s": [sys.executable, "-m", "runner", "--help"],
        "validate_s": [sys.executable, "-m", "runner", "validate", "playbooks/welcome.yml"],
    }
    _time(cases["validate_s"])  # fills the schema cache, as any first run does
    samples: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(repeats):
        for name, args in cases.items():
            samples[name].append(_time(args))
    out = {k: round(statistics.median(v), 3) for k, v in samples.items()}
    out["validate_over_python"] = round(out["validate_s"] / out["python_pass_s"], 1)
    out["help_over_python"] = round(out["help_s"] / out["python_pass_s"], 1)
    return out


if __name__ == "__main__":
    print(measure(5))
