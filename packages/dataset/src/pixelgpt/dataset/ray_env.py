"""Ray's environment, in one place: the settings every Ray process of this project needs, and a watchdog that
stops the Ray a driver started in-process when that driver dies (even by SIGKILL).

RAY_ENV: no usage stats; token auth off (else the first ray.init writes ~/.ray/auth_token and turns it on for
every later `ray start` on the machine, and `ray job submit` then fails); no uv-run hook (else Ray workers
started under `uv run` copy the working folder and build a fresh venv of several GB for themselves).
"""

from __future__ import annotations

import os
import subprocess
import sys

RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
}


def apply_ray_env() -> None:
    """Set RAY_ENV's defaults in this process (variables already set win)."""
    for key, value in RAY_ENV.items():
        os.environ.setdefault(key, value)
    if "ray" in sys.modules and os.environ["RAY_ENABLE_UV_RUN_RUNTIME_ENV"] == "0":
        from ray._private import ray_constants  # read once at import: follow the variable when set late

        ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV = False


# The watchdog waits for its stdin to close (the driver exited, however it exited), then terminates every
# process whose command line names the session's folder, with their children (Ray's workers rename themselves
# "ray::..." but are children of the raylet).
_WATCHDOG = r"""
import sys, time, psutil
session = sys.argv[1]
sys.stdin.buffer.read()
me = psutil.Process().pid
found = []
for p in psutil.process_iter(["pid", "cmdline"]):
    try:
        if p.pid != me and any(session in arg for arg in (p.info["cmdline"] or [])):
            found.append(p)
            found.extend(p.children(recursive=True))
    except psutil.Error:
        pass
for p in found:
    try:
        p.terminate()
    except psutil.Error:
        pass
_, alive = psutil.wait_procs(found, timeout=5)
for p in alive:
    try:
        p.kill()
    except psutil.Error:
        pass
"""


def start_watchdog(session_dir: str) -> subprocess.Popen:
    """A process that stops this session's Ray processes once the caller is gone. Keep the returned Popen
    alive for the run; `stop_watchdog` (or the caller's death) triggers the clean-up."""
    return subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, session_dir],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C of the driver's terminal must not kill the watchdog first
    )


def stop_watchdog(watchdog: subprocess.Popen, timeout: float = 30) -> None:
    """After ray.shutdown(): let the watchdog remove whatever of the session is still running, and wait."""
    if watchdog.stdin:
        watchdog.stdin.close()
    try:
        watchdog.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        watchdog.kill()
