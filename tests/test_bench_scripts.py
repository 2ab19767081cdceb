"""Every bench script still imports against the current packages (`make bench` is not part of the suite, so a
renamed or removed function would otherwise break it unnoticed)."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_every_bench_script_imports():
    scripts = sorted(BENCH.glob("*.py"))
    assert len(scripts) >= 6
    # each module's top level runs (its imports and constants), not its main(): __name__ is not "__main__"
    code = "import runpy, sys\nfor path in sys.argv[1:]:\n    runpy.run_path(path, run_name='bench_check')"
    done = subprocess.run([sys.executable, "-c", code, *map(str, scripts)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
