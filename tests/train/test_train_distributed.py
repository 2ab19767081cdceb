"""Multi-process and object-storage runs: a 2-process FSDP2 run over gloo (`composer -n 2`), and a run that
checkpoints to an S3 bucket (moto), is killed part-way and relaunched with the same command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
from train_helpers import read_losses

from pixelgpt.train.trainer import train

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN_PY = os.path.join(REPO, "packages", "train", "run.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_args(shards: str, root, run_name: str, *extra: str) -> list[str]:
    return [
        os.path.join(REPO, "yamls", "tiny", "dualgpt.yaml"),
        f"data.shards=[{{path: {shards}}}]",
        f"run_name={run_name}",
        f"data.cache={root}/cache/{{run_name}}",
        f"output_dir={root}/runs/{{run_name}}",
        "logging.tensorboard=false",
        "rollouts=0",
        *extra,
    ]


@pytest.fixture
def subprocess_env():
    """The environment of a launched run, with a private TMPDIR (streaming's filelocks stay in it). It lives
    directly under /tmp: multiprocessing puts AF_UNIX sockets there, whose paths must stay under 108 bytes,
    which a pytest tmp_path under CI's own TMPDIR exceeds."""
    tmp = tempfile.mkdtemp(prefix="pxg-", dir="/tmp")
    yield dict(os.environ, TMPDIR=tmp)
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.slow
def test_two_processes_ddp_for_every_variant_and_fsdp2(shard_set, tmp_path, tiny_cfg, subprocess_env):
    """`composer -n 2` without FSDP (DDP): PixelGPT's token side and TextGPT's patch side are frozen, and
    MonoGPT/DualGPT micro-batches of one modality leave the other's parameters without gradients; every
    variant must train. Then FSDP2 over gloo with sharded checkpoints, in the same launch."""
    composer = os.path.join(os.path.dirname(sys.executable), "composer")
    script = os.path.join(REPO, "tests", "train", "two_process_runs.py")
    proc = subprocess.run(
        [composer, "-n", "2", "--master_port", str(free_port()), script, shard_set[0], str(tmp_path)],
        capture_output=True, text=True, timeout=400, env=subprocess_env, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for variant in ("textgpt", "pixelgpt", "monogpt", "dualgpt"):
        assert [r["step"] for r in read_losses(tmp_path / "runs" / f"ddp-{variant}")] == [1, 2, 3]

    run = "fsdp"
    for step in (2, 4):  # a sharded checkpoint: one shard file per rank
        files = sorted(os.listdir(tmp_path / "ckpt" / run / f"ep0-ba{step}"))
        assert [f for f in files if f.endswith(".distcp")] == ["__0_0.distcp", "__1_0.distcp"]
    summary = json.loads((tmp_path / "runs" / run / "summary.json").read_text())
    assert summary["fsdp_units"] >= 3  # each decoder block (2) plus the root
    # The same global batches as a 1-process run with the same seed: the first step's losses agree
    # (not bit-exactly: each rank averages its own half of the batch).
    sharded = read_losses(tmp_path / "runs" / run)
    single = train(
        tiny_cfg("dualgpt", "max_duration=1ba", "save_folder=null", "rollouts=0", run_name="single")
    )
    first = read_losses(os.path.dirname(single["loss_png"]))[0]
    assert sharded[0]["modality"] == first["modality"]
    assert sharded[0]["loss"] == pytest.approx(first["loss"], rel=2e-3)
    assert [r["step"] for r in sharded] == [1, 2, 3, 4]


@pytest.fixture
def s3(s3_server):
    """Bucket 'train' on the session's S3 server (tests/conftest.py); yields the boto3 client."""
    s3_server.create_bucket(Bucket="train")
    return s3_server


@pytest.mark.slow
@pytest.mark.long
def test_s3_checkpoints_sigkill_and_relaunch(shard_set, tmp_path, s3, tiny_cfg, subprocess_env):
    """Shards read from s3://, checkpoints written to s3://; the launched run is SIGKILLed after a checkpoint
    reached the bucket, and the same command again resumes from the bucket and ends with the losses of an
    uninterrupted run."""
    for dirpath, _, files in os.walk(shard_set[0]):  # publish the shard set to the bucket
        for name in files:
            full = os.path.join(dirpath, name)
            s3.upload_file(full, "train", "shards/" + os.path.relpath(full, shard_set[0]))
    shards = "s3://train/shards"
    steps = "max_duration=24ba"  # 4 checkpoints: each upload to moto takes seconds
    shards_arg = f"data.shards=[{{path: {shards}}}]"
    ref = train(tiny_cfg("dualgpt", steps, "save_folder=null", "rollouts=0", shards_arg, run_name="straight"))

    ckpt = "save_folder=s3://train/ckpt/{run_name}"
    cmd = [sys.executable, RUN_PY, *cli_args(shards, tmp_path, "killed", steps, ckpt, "save_interval=6ba")]
    env = subprocess_env
    proc = subprocess.Popen(  # its own process group: composer uploads checkpoints from child processes
        cmd,
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    # Throttle the trainer (not its uploader processes) once it is past the first checkpoint, so the kill
    # lands part-way however fast this machine trains: it runs 50 ms in every 250 while we watch the bucket.
    losses = tmp_path / "runs" / "killed" / "losses.jsonl"
    deadline = time.time() + 300
    found = False
    while time.time() < deadline and proc.poll() is None and not found:
        listing = s3.list_objects_v2(Bucket="train", Prefix="ckpt/killed/").get("Contents", [])
        found = any(o["Key"].endswith("latest-rank0.pt.symlink") for o in listing)
        past_checkpoint = losses.exists() and len(losses.read_text().splitlines()) >= 7
        if past_checkpoint and not found:
            os.kill(proc.pid, signal.SIGSTOP)
            time.sleep(0.2)
            os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.05)
    shm = shm_of(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert found and proc.returncode == -signal.SIGKILL, err[-3000:]
    killed_at = len(read_losses(tmp_path / "runs" / "killed"))
    assert 6 <= killed_at < 24

    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=400)
    for path in shm:  # the killed process could not release its shared memory
        if os.path.exists(path):
            os.unlink(path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((tmp_path / "runs" / "killed" / "summary.json").read_text())
    assert summary["resumed_from"] >= 6 and summary["resumed_from"] % 6 == 0
    resumed = read_losses(tmp_path / "runs" / "killed")
    straight = read_losses(os.path.dirname(ref["loss_png"]))
    assert [r["step"] for r in resumed] == list(range(1, 25))
    assert [r["modality"] for r in resumed] == [r["modality"] for r in straight]
    assert [r["loss"] for r in resumed] == pytest.approx([r["loss"] for r in straight], rel=1e-6, abs=1e-7)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="train", Prefix="ckpt/killed/")["Contents"]]
    assert any(k.endswith("-ba24-rank0.pt") for k in keys), keys


def shm_of(pgid: int) -> set[str]:
    """The /dev/shm files the processes of a process group have mapped: streaming's segments and the
    multiprocessing semaphores of composer's uploaders, which a SIGKILL of the group leaves behind."""
    found: set[str] = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
                if int(f.read().rsplit(")", 1)[1].split()[2]) != pgid:  # field 5: the process group
                    continue
            with open(f"/proc/{pid}/maps", encoding="utf-8") as f:
                found |= {line.split()[5] for line in f if " /dev/shm/" in line}
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return found
