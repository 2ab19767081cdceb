"""Helpers of the cluster tests: the hosts of an infra/local/hosts.sh session, their processes and
environment, a Ray cluster across them, polling."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOSTS_SH = os.path.join(REPO, "infra", "local", "hosts.sh")
VENV_BIN = os.path.dirname(sys.executable)  # ray, composer, weed, python of this environment
S3_PORT = 8333
RAY_PORT, DASHBOARD_PORT = 6379, 8265  # each host has its own ports: the defaults never collide


@dataclass
class Hosts:
    """A hosts.sh session: host i has address addr(i), folder dir(i); `popen(i, args)` runs on it."""

    sid: str
    n: int
    net: str

    def addr(self, i: int) -> str:
        return f"{self.net}.{i + 1}"

    def dir(self, i: int) -> str:
        return os.path.join(self._root, f"h{i}")

    @property
    def _root(self) -> str:
        env = read_env(self.sid)
        return env["DIR"]

    def command(self, i: int, args: list[str]) -> list[str]:
        return ["bash", HOSTS_SH, "exec", self.sid, str(i), *args]

    def popen(self, i: int, args: list[str], env: dict, log: str, cwd: str | None = None) -> subprocess.Popen:
        """`args` on host i in the background (own session, so it can be signalled as a group), output to
        `log`."""
        with open(log, "ab") as out:
            return subprocess.Popen(
                self.command(i, args), env=env, cwd=cwd or self.dir(i), stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def pids(self, i: int) -> list[int]:
        """Every process on host i, found by its network namespace."""
        want = os.stat(f"/run/netns/px{self.sid}-h{i}").st_ino
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.stat(f"/proc/{pid}/ns/net").st_ino == want:
                    found.append(int(pid))
            except OSError:
                continue  # gone meanwhile
        return found

    def procs(self, i: int, needle: str) -> list[int]:
        """The processes on host i whose command line contains `needle`."""
        found = []
        for pid in self.pids(i):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if needle in f.read().replace(b"\0", b" ").decode(errors="replace"):
                        found.append(pid)
            except OSError:
                continue
        return found

    def named(self, i: int, comm: str) -> list[int]:
        """The processes on host i whose executable name (/proc/PID/comm) is `comm`."""
        found = []
        for pid in self.pids(i):
            try:
                with open(f"/proc/{pid}/comm", encoding="utf-8") as f:
                    if f.read().strip() == comm:
                        found.append(pid)
            except OSError:
                continue
        return found

    def signal(self, pids: list[int], sig: int) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def kill_host(self, i: int) -> None:
        """Host i "fails": every process on it is SIGKILLed at once."""
        subprocess.run(["bash", HOSTS_SH, "kill", self.sid, str(i), "KILL"], check=True)


def read_env(sid: str) -> dict[str, str]:
    state = os.environ.get("HOSTS_STATE", "/run/pxhosts")
    with open(os.path.join(state, sid, "env"), encoding="utf-8") as f:
        return dict(line.strip().split("=", 1) for line in f if "=" in line)


def host_env(extra: dict | None = None) -> dict:
    """The environment of processes started on the hosts: this venv first on PATH, Ray's settings."""
    from pixelgpt.dataset.ray_env import RAY_ENV

    env = dict(os.environ, PATH=f"{VENV_BIN}:{os.environ['PATH']}", TOKENIZERS_PARALLELISM="false", **RAY_ENV)
    for key in ("RAY_ADDRESS", "TMPDIR", "S3_ENDPOINT_URL", "AWS_ENDPOINT_URL"):
        env.pop(key, None)
    env.update(extra or {})
    return env


def wait_until(check, timeout: float, what: str, every: float = 0.25, alive=None):
    """Poll `check()` until it returns something truthy (returned); fail naming `what` on timeout, or at
    once if the process `alive` exited."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        if alive is not None and alive.poll() is not None:
            raise AssertionError(f"{what}: the process exited ({alive.returncode}) first")
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def http_ok(url: str, data: bytes | None = None) -> bool:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=5)
        return True
    except (urllib.error.URLError, OSError):
        return False


def try_call(fn) -> bool:
    try:
        fn()
        return True
    except Exception:
        return False


def s3_env(endpoint: str) -> dict:
    return {"S3_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "cluster", "AWS_SECRET_ACCESS_KEY": "cluster",
            "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip


@contextlib.contextmanager
def ray_cluster(hosts: Hosts, logs):
    """A Ray head on host 0 (one CPU for one renderer actor; the job's driver takes none) and a worker node
    on host 1 (one CPU), started with `ray start --block` so that SIGTERM to that process stops what it
    started; both are stopped when the block ends. Yields the dashboard (job API) URL."""
    a, b = hosts.addr(0), hosts.addr(1)
    ray = os.path.join(VENV_BIN, "ray")
    env = host_env()
    common = ["--block", "--num-cpus", "1", "--disable-usage-stats"]
    head_args = [ray, "start", "--head", "--node-ip-address", a, "--port", str(RAY_PORT),
                 "--dashboard-host", a, "--dashboard-port", str(DASHBOARD_PORT),
                 "--temp-dir", os.path.join(hosts.dir(0), "ray"), *common]  # fmt: skip
    worker_args = [ray, "start", "--address", f"{a}:{RAY_PORT}", "--node-ip-address", b,
                   "--temp-dir", os.path.join(hosts.dir(1), "ray"), *common]  # fmt: skip
    head = hosts.popen(0, head_args, env, str(logs / "head.log"))
    worker = None
    url = f"http://{a}:{DASHBOARD_PORT}"
    try:
        # the worker joins as soon as the head's GCS listens (its dashboard and job agent come later)
        wait_until(lambda: tcp_open(a, RAY_PORT), 120, "Ray head's GCS", alive=head)
        worker = hosts.popen(1, worker_args, env, str(logs / "worker.log"))
        wait_until(lambda: len(alive_nodes(url)) == 2, 120, "two Ray nodes alive", alive=worker)
        # the job API answers before the head's job agent registered; probe with what a submit does
        wait_until(lambda: http_ok(f"{url}/api/jobs/", json.dumps({"entrypoint": "true"}).encode()), 120,
                   "Ray job agent")  # fmt: skip
        yield url
    finally:
        stop_ray(hosts, [p for p in (worker, head) if p is not None])


def wait_all(procs: list[subprocess.Popen], timeout: float) -> list[int]:
    """Wait for the processes, together at most `timeout` s (at least 1 s each); SIGKILL the process group
    of any still running; their return codes."""
    deadline = time.time() + timeout
    for p in procs:
        try:
            p.wait(timeout=max(1.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    return [p.returncode for p in procs]


def stop_ray(hosts: Hosts, launchers: list[subprocess.Popen]) -> None:
    """SIGTERM the `ray start --block` processes (each stops what it started), then SIGKILL whatever of Ray
    is left on the hosts after a few seconds (its processes, found by name on each host; nothing else)."""
    for proc in launchers:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    wait_all(launchers, 5)
    for i in range(hosts.n):
        ray_dir = os.path.join(hosts.dir(i), "ray")
        hosts.signal([p for p in hosts.pids(i) if is_ray_process(p, ray_dir)], signal.SIGKILL)


def is_ray_process(pid: int, ray_dir: str) -> bool:
    """Ray's own processes, its workers ("ray::..."), and what runs in its folders (a job's driver)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    ray_code = "/site-packages/ray/" in cmd or "/bin/ray " in cmd
    return cmd.startswith("ray::") or ray_code or cwd.startswith(ray_dir)


def tcp_open(host: str, port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex((host, port)) == 0


def alive_nodes(url: str) -> list[str]:
    """The IP addresses of the Ray nodes alive, from the dashboard."""
    try:
        with urllib.request.urlopen(f"{url}/nodes?view=summary", timeout=5) as r:
            summary = json.load(r)["data"]["summary"]
    except (urllib.error.URLError, OSError, KeyError, ValueError):
        return []
    return [n["raylet"]["nodeManagerAddress"] for n in summary if n["raylet"]["state"] == "ALIVE"]
