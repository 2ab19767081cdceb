"""The step from one machine to several, on real hosts (network namespaces, tests/cluster/conftest.py):

1. The render job through `ray job submit` to a Ray head on host 0 with a worker node on host 1, reading the
   sample corpus from S3 (SeaweedFS on host 0) and writing s3:// shards. Partitions render on both nodes;
   host 1 dies mid-job (its raylet, then everything on it) while it holds a partition; the job retries that
   partition on host 0 and finishes; the shards are byte-identical to a one-host run of the same job.
2. Composer across the hosts: 2 hosts x 2 processes (gloo) train the tiny DualGPT from those s3:// shards with
   HSDP (fsdp.replicate=2: sharded within a host, replicated across) and checkpoint to s3://. Every rank reads
   disjoint samples that together make the epoch; host 1 is killed after a checkpoint, both hosts are
   relaunched with the same commands, the run resumes from the bucket's last checkpoint, and its losses equal
   an uninterrupted one-host 4-process FSDP run's with the same global batch.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request

import pytest
from cluster_helpers import REPO, VENV_BIN, Hosts, host_env, ray_cluster, s3_env, wait_all, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.long, pytest.mark.netns]

SOURCES = ("c4", "pes2o", "the-stack", "wikipedia")
RENDER_FLAGS = ["--max-patches", "96", "--max-tokens", "256", "--workers", "2"]  # the tiny yamls' rows
TRAIN_SCRIPT = os.path.join(REPO, "tests", "cluster", "train_host.py")
TRAIN_ARGS = [
    os.path.join(REPO, "yamls", "tiny", "dualgpt.yaml"),
    "data.shards=[{path: s3://shards/cluster}]",
    "data.cache=cache/{run_name}",  # relative: each host's own folder (the launch's working folder)
    "output_dir=runs/{run_name}",
    "fsdp.enabled=true",
    "global_batch_size=16",
    "data.epoch_size=96",  # one epoch of 96 samples = 6 steps
    "data.num_canonical_nodes=2",
    "max_duration=1ep",
    "logging.tensorboard=false",
    "logging.console_interval=1ba",
    "rollouts=0",
]
STEPS = 6


# ------------------------------------------------------------------------------------------------ render


def upload_corpus(client) -> list[str]:
    """The embedded sample corpus into s3://corpora/samples/<source>/; returns the --input flags."""
    from pixelgpt.dataset.samples import sample_inputs

    flags = []
    for source, patterns in sorted(sample_inputs().items()):
        for pattern in patterns:
            for path in sorted(__import__("glob").glob(pattern)):
                client.upload_file(path, "corpora", f"samples/{source}/{os.path.basename(path)}")
        flags += ["--input", f"{source}=s3://corpora/samples/{source}/*"]
    return flags


def render_one_host(out: str, input_flags: list[str]) -> None:
    """The same job on one host, in this process: the job's own plan -> render each partition -> merge."""
    from pixelgpt.dataset.job import JobConfig
    from pixelgpt.dataset.partition import PartitionWorker, plan_partitions
    from pixelgpt.dataset.summary import merge

    inputs: dict[str, list[str]] = {}
    for flag in input_flags[1::2]:
        source, pattern = flag.split("=", 1)
        inputs.setdefault(source, []).append(pattern)
    cfg = JobConfig(inputs=inputs, output=out, max_patches=96, max_tokens=256, workers=1, progress=False)
    plan = plan_partitions(cfg)
    worker = PartitionWorker(cfg)
    merge(cfg, plan, [worker.render(spec) for spec in plan], t0=time.perf_counter())


def job_api(url: str, path: str) -> dict:
    with urllib.request.urlopen(f"{url}/api/jobs/{path}", timeout=10) as r:
        return json.load(r)


def complete_partitions(client, prefix: str) -> list[str]:
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="shards", Prefix=prefix).get("Contents", [])]
    return [k.split("/")[-2] for k in keys if re.fullmatch(rf"{prefix}[^/]+/index\.json", k)]


def s3_tree(client, bucket: str, prefix: str) -> dict[str, bytes]:
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"][len(prefix) :]] = client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
    return out


def local_tree(root: str) -> dict[str, bytes]:
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


@pytest.fixture(scope="module")
def render_job(hosts: Hosts, s3, tmp_path_factory):
    """The render job on the two-node Ray cluster, with host 1 killed mid-job (see the module docstring), and
    a one-host render of the same inputs beside it. Ray is stopped before the trainer tests run."""
    endpoint, client = s3
    logs = tmp_path_factory.mktemp("render")
    input_flags = upload_corpus(client)
    onehost = str(logs / "onehost")
    reference = threading.Thread(target=render_one_host, args=(onehost, input_flags))
    reference.start()  # on this process's core while the cluster starts and host 0's actor is held
    t0 = time.perf_counter()
    marks = {}

    def mark(what: str) -> None:
        marks[what] = round(time.perf_counter() - t0, 1)

    with ray_cluster(hosts, logs) as url:
        mark("cluster up")
        env = host_env({"RAY_ADDRESS": url})
        runtime_env = {"env_vars": {**s3_env(endpoint), "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}}
        job_id = f"render-{hosts.sid}"
        submit = [os.path.join(VENV_BIN, "ray"), "job", "submit", "--address", url, "--no-wait",
                  "--submission-id", job_id, "--working-dir", REPO,
                  "--runtime-env-json", json.dumps(runtime_env), "--",
                  "python", "pipelines/render_corpus.py", *input_flags, "--output", "s3://shards/cluster",
                  *RENDER_FLAGS]  # fmt: skip
        done = subprocess.run(submit, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        mark("submitted")
        # Host 0's renderer actor is held (SIGSTOP) as soon as it exists, so that host 1 renders the first
        # partitions. Once host 1 has finished two (so the driver has recorded at least one of them and has
        # given it the next one: 4 of the 8 are still queued), host 1 is held and dies: its raylet first,
        # then everything on it. Host 0's actor goes on and must finish the job, the dead node's partition
        # included.
        actor_a = wait_until(lambda: hosts.procs(0, "ray::PartitionWorker"), 240, "host 0's renderer actor")
        hosts.signal(actor_a, signal.SIGSTOP)
        mark("actor on host 0")
        wait_until(lambda: len(complete_partitions(client, "cluster/")) >= 2, 240, "host 1 rendering", 0.05)
        hosts.signal(hosts.procs(1, "ray::PartitionWorker"), signal.SIGSTOP)
        hosts.signal(hosts.named(1, "raylet"), signal.SIGKILL)
        hosts.kill_host(1)
        mark("host 1 killed")
        hosts.signal(actor_a, signal.SIGCONT)
        status = wait_until(
            lambda: (s := job_api(url, job_id)["status"]) in ("SUCCEEDED", "FAILED", "STOPPED") and s, 300,
            "the job ending",
        )  # fmt: skip
        mark("job ended")
        job_logs = job_api(url, f"{job_id}/logs")["logs"]
    mark("cluster down")
    reference.join(timeout=300)
    mark("one-host run done")
    return {
        "status": status,
        "logs": job_logs,
        "onehost": onehost,
        "marks": marks,
        "hosts": (hosts.addr(0), hosts.addr(1)),
    }


def test_render_job_on_two_hosts_survives_a_dead_node(render_job, s3):
    """Partitions ran on both Ray nodes (stats.json `nodes` holds each partition's node IP); the partition
    host 1 held when it died was retried on host 0; the set equals a one-host run's byte for byte."""
    _, client = s3
    job = render_job
    assert job["status"] == "SUCCEEDED", job["logs"][-4000:]
    a, b = job["hosts"]
    retried = re.findall(r"^(\S+): attempt 1 failed \((.*)\); retrying$", job["logs"], re.M)
    assert retried, job["logs"][-4000:]
    stats = json.loads(client.get_object(Bucket="shards", Key="cluster/stats.json")["Body"].read())
    assert stats["complete"] and stats["partitions"] == 8 and stats["documents"] == 342
    nodes = stats["nodes"]
    assert sorted(nodes) == sorted(complete_partitions(client, "cluster/")) and len(nodes) == 8
    assert set(nodes.values()) == {a, b}, nodes  # both nodes rendered partitions
    for name, _ in retried:
        assert nodes[name] == a  # a partition whose worker died was finished by host 0
    cluster = s3_tree(client, "shards", "cluster/")
    onehost = local_tree(job["onehost"])
    cluster.pop("stats.json"), onehost.pop("stats.json")  # timings, output and nodes differ; nothing else
    assert sorted(cluster) == sorted(onehost) and len(cluster) > 20
    assert [k for k in cluster if cluster[k] != onehost[k]] == []
    print(f"\nrender job (s since start): {job['marks']}")


# ------------------------------------------------------------------------------------------------ train


def composer_cmd(hosts: Hosts, nproc: int, node_rank: int, *overrides: str) -> list[str]:
    world = nproc if node_rank is None else 2 * nproc
    launcher = [os.path.join(VENV_BIN, "composer"), "--nproc", str(nproc), "--master_addr", hosts.addr(0),
                "--master_port", "29500"]  # fmt: skip
    if node_rank is not None:
        launcher += ["--world_size", str(world), "--node_rank", str(node_rank)]
    return [*launcher, TRAIN_SCRIPT, *TRAIN_ARGS, *overrides]


def read_jsonl(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def samples_by_step(hosts: Hosts, run: str) -> dict[int, dict[int, list[int]]]:
    """step -> rank -> sample ids, from every host's records (the last record of a step wins: a resumed run
    replays the steps after its checkpoint)."""
    out: dict[int, dict[int, list[int]]] = {}
    for i in range(hosts.n):
        folder = os.path.join(hosts.dir(i), "runs", run)
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if name.startswith("samples-rank"):
                for r in read_jsonl(os.path.join(folder, name)):
                    out.setdefault(r["step"], {})[r["rank"]] = (r["ids"], r["host"])
    return out


def tail(path: str, n: int = 3000) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()[-n:]


def test_composer_hsdp_on_two_hosts_resumes_after_a_dead_host(hosts, s3, render_job, tmp_path):
    endpoint, client = s3
    assert render_job["status"] == "SUCCEEDED"
    env = host_env(s3_env(endpoint))
    logs = tmp_path
    t0 = time.perf_counter()
    marks = {}

    def mark(what: str) -> None:
        marks[what] = round(time.perf_counter() - t0, 1)

    # Reference: one host, 4 processes, plain FSDP over all of them, no checkpoints.
    ref = hosts.popen(0, composer_cmd(hosts, 4, None, "run_name=ref", "save_folder=null"), env,
                      str(logs / "ref.log"))  # fmt: skip
    assert wait_all([ref], 600) == [0], tail(logs / "ref.log")
    mark("one-host run done")

    # Two hosts x 2 processes, HSDP, checkpoints to the bucket every 2 steps; host 1 dies after one.
    run = ["run_name=hsdp", "fsdp.replicate=2", "save_folder=s3://ckpt/{run_name}", "save_interval=2ba"]

    def launch(attempt: str) -> list[subprocess.Popen]:
        return [hosts.popen(i, composer_cmd(hosts, 2, i, *run), env, str(logs / f"{attempt}-h{i}.log"))
                for i in range(2)]  # fmt: skip

    first = launch("first")
    losses = os.path.join(hosts.dir(0), "runs", "hsdp", "losses.jsonl")

    def ranks() -> list[int]:  # the training processes (not their launchers, not the uploaders)
        return [p for i in range(2) for p in hosts.procs(i, TRAIN_SCRIPT) if "bin/composer" not in _cmd(p)]

    # Composer uploads a checkpoint from processes it spawns at the first save (each imports composer: up to
    # a minute on a busy machine), and rank 0 publishes the "latest" symlink at a later step, once the files
    # are in the bucket; the 6 steps are over long before. So the trainers are held (SIGSTOP) once past the
    # first save (step 2's checkpoint is written after step 2's loss line: held from step 3's line on; the
    # uploads, handed to the spawned processes at the save, go on), then let run in short slices once the
    # files are in the bucket, until rank 0 has published the symlink.
    held = False

    def checkpointed() -> bool:
        nonlocal held
        keys = [o["Key"] for o in client.list_objects_v2(Bucket="ckpt", Prefix="hsdp/").get("Contents", [])]
        if "hsdp/latest-rank0.pt.symlink" in keys:
            return True
        if not held and len(read_jsonl(losses)) >= 3:
            hosts.signal(ranks(), signal.SIGSTOP)
            held = True
        elif held and "hsdp/ep0-ba2/.metadata" in keys:
            hosts.signal(ranks(), signal.SIGCONT)
            time.sleep(0.1)
            hosts.signal(ranks(), signal.SIGSTOP)
            time.sleep(0.4)
        return False

    mark("two hosts launched")
    wait_until(checkpointed, 600, "a checkpoint in the bucket", 0.05, alive=first[0])
    trained = len(read_jsonl(losses))
    hosts.kill_host(1)
    mark("host 1 killed")
    hosts.signal(ranks(), signal.SIGCONT)  # host 0's trainers go on, and find their peers gone
    assert 2 <= trained < STEPS, trained
    # Host 0 is left without its peers: its processes must fail (not hang) and its launcher exit.
    rc_alone = wait_all([first[0]], 180)[0]
    mark("host 0 launcher exited")
    wait_all(first[1:], 30)
    for pid in ranks():  # whatever of the first launch is left on host 0 (uploaders)
        hosts.signal([pid], signal.SIGKILL)
    assert rc_alone != 0

    second = launch("again")
    rcs = wait_all(second, 600)
    mark("relaunch done")
    assert rcs == [0, 0], tail(logs / "again-h0.log") + tail(logs / "again-h1.log")
    print(f"\ntrainer runs (s since start): {marks}")

    # The resumed run: every step once, resumed from the bucket, losses of the one-host run.
    with open(os.path.join(hosts.dir(0), "runs", "hsdp", "summary.json"), encoding="utf-8") as f:
        summary = json.load(f)
    assert summary["resumed_from"] in (2, 4) and summary["resumed_from"] <= trained, summary
    got = read_jsonl(losses)
    want = read_jsonl(os.path.join(hosts.dir(0), "runs", "ref", "losses.jsonl"))
    assert [r["step"] for r in got] == list(range(1, STEPS + 1)) == [r["step"] for r in want]
    assert [r["modality"] for r in got] == [r["modality"] for r in want]
    assert [r["loss"] for r in got] == pytest.approx([r["loss"] for r in want], rel=1e-5)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="ckpt", Prefix="hsdp/")["Contents"]]
    assert any(k.startswith(f"hsdp/ep0-ba{STEPS}/") and k.endswith(".distcp") for k in keys), keys

    # Disjoint samples per rank, the whole epoch together, the same global batches as the one-host run.
    two_hosts, one_host = samples_by_step(hosts, "hsdp"), samples_by_step(hosts, "ref")
    assert sorted(two_hosts) == sorted(one_host) == list(range(1, STEPS + 1))
    seen: list[int] = []
    for step, by_rank in two_hosts.items():
        assert sorted(by_rank) == [0, 1, 2, 3]
        assert {by_rank[r][1] for r in (0, 1)} == {f"px{hosts.sid}-h0"}  # ranks 0-1 on host 0, 2-3 on 1
        assert {by_rank[r][1] for r in (2, 3)} == {f"px{hosts.sid}-h1"}
        ids = [i for r in range(4) for i in by_rank[r][0]]
        assert len(ids) == 16 and len(set(ids)) == 16  # disjoint: 4 samples per rank
        assert sorted(ids) == sorted(i for r in range(4) for i in one_host[step][r][0])
        seen += ids
    assert len(seen) == len(set(seen)) == 96  # the epoch, each sample once


def _cmd(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
