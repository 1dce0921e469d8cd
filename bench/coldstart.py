"""Cold start: new processes, interleaved, median of N: `python -c pass`, `mktows-run
--help`, `mktows-run validate playbooks/welcome.yml` (warm: the caches filled by one run first).

The runner's bytecode is compiled first (`compileall`, as pip does when it installs the
package): with PYTHONDONTWRITEBYTECODE set (as in some CI and container environments) every
child would otherwise recompile runner/*.py (~0.1 s) and measure that instead. Python still
reads .pyc files with that variable set.

"Warm" means the user cache a first run leaves behind ($XDG_CACHE_HOME/mktows-run): the
WSDL's pickle, its light description and the verdicts xmlschema and jsonschema gave
(runner/verdicts.py), with which a validate imports neither.
"""

from __future__ import annotations

import compileall
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
    # Into runner/**/__pycache__, where the children look (what an installed package has).
    compileall.compile_dir(ROOT / "runner", quiet=1)
    cases = {
        "python_pass_s": [sys.executable, "-c", "pass"],
        "help_s": [sys.executable, "-m", "runner", "--help"],
        "validate_s": [sys.executable, "-m", "runner", "validate", "playbooks/welcome.yml"],
    }
    _time(cases["validate_s"])  # fills the caches, as any first run does
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
