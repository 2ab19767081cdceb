"""`ray job submit` as the README writes it, through infra/local/ray.sh, to a real local Ray head: a relative
output is refused with one clear line, an absolute one and an s3:// one (credentials passed in the runtime
env) are rendered, and the summary names where the set went."""

import os
import shutil
import socket
import subprocess
import tempfile

import pytest

from pixelgpt.dataset import schema, storage

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WIKI = "packages/dataset/src/pixelgpt/dataset/samples/data/wikipedia/train-00000-of-00002.parquet"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head(s3_bucket):
    """A Ray head started by ray.sh on free ports in a private folder (short: Ray's unix sockets), stopped by
    ray.sh afterwards."""
    folder = tempfile.mkdtemp(prefix="pxr-", dir="/tmp")
    env = dict(os.environ, RAY_LOCAL_DIR=folder)
    for key in ("RAY_PORT", "RAY_DASHBOARD_PORT", "RAY_CLIENT_PORT", "RAY_DASHBOARD_AGENT_PORT"):
        env[key] = str(free_port())
    env.pop("RAY_ADDRESS", None)
    script = os.path.join(REPO, "infra", "local", "ray.sh")
    started = subprocess.run(
        ["bash", script, "start", "2"], env=env, capture_output=True, text=True, timeout=300
    )
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield lambda *args: subprocess.run(
            ["bash", script, "submit", *args], env=env, capture_output=True, text=True, timeout=400
        )
    finally:
        subprocess.run(["bash", script, "stop"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.long
@pytest.mark.slow
def test_ray_job_submit_as_the_readme_writes_it(ray_head, s3_bucket, tmp_path):
    flags = ["--input", f"wikipedia={WIKI}", "--max-patches", "128", "--workers", "1"]
    relative = ray_head(*flags, "--output", "out/rel")
    assert relative.returncode != 0
    assert "render_corpus: output: 'out/rel' is relative" in relative.stdout + relative.stderr

    remote = f"s3://{s3_bucket}/submitted"
    done = ray_head(*flags, "--output", remote)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"output     {remote}" in done.stdout and "documents  42 = rendered 42" in done.stdout
    assert storage.exists(f"{remote}/{schema.INDEX_FILE}")


def test_a_relative_output_becomes_absolute_outside_ray_jobs(tmp_path, monkeypatch):
    from test_pipeline_cli import load

    cli = load("render_corpus")
    monkeypatch.chdir(tmp_path)
    assert cli.resolve_output({"output": "out/x"})["output"] == str(tmp_path / "out" / "x")
    assert cli.resolve_output({"output": "s3://b/p"})["output"] == "s3://b/p"
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", "{}")  # what Ray sets for a submitted driver
    with pytest.raises(cli.ConfigError, match="relative"):
        cli.resolve_output({"output": "out/x"})
