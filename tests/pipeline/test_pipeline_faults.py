"""Faults in the render job: no attempt that failed, was killed or ran out of disk is ever taken for a
finished partition; the re-run ends byte-identical to an uninterrupted run; transient failures are retried,
deterministic ones are not; user errors are found on the driver before Ray starts; a killed driver leaves no
Ray behind."""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
import ray.cloudpickle
from pipeline_helpers import job, tree_bytes

from pixelgpt.dataset import schema, writer
from pixelgpt.dataset.job import ConfigError, JobError, run
from pixelgpt.dataset.partition import PartitionWorker
from pixelgpt.dataset.samples import sample_inputs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module


class FailOnce(PartitionWorker):
    """Raises `error` after the 2nd document of each partition named in `names`, on its first attempt only
    (a marker file per partition, in `marks`, remembers the attempt across actor processes)."""

    names: tuple[str, ...] = ()
    marks = ""
    error: type[Exception] = ConnectionError

    def after_document(self, spec, counts):
        mark = os.path.join(self.marks, spec.name)
        if spec.name in self.names and counts["rendered"] == 2 and not os.path.exists(mark):
            open(mark, "w").close()
            raise self.error(f"injected {self.error.__name__} in {spec.name}")


def failing(tmp_path, names, error):
    marks = tmp_path / "marks"
    marks.mkdir(exist_ok=True)
    return type("Failing", (FailOnce,), {"names": tuple(names), "marks": str(marks), "error": error})


def partition_state(root, name):
    return writer.is_complete(str(root), name)[0]


SUBSET = ("c4", "wikipedia")  # 4 of the sample corpus's 8 partitions: faster, and enough to fail part-way


def subset_job(output, **kw):
    return job(output, inputs={k: v for k, v in sample_inputs().items() if k in SUBSET}, **kw)


def same_partitions(target, clean_out) -> None:
    """Every partition file (shards, indexes, stats, rejects) of `target` equals the clean run's, byte for
    byte (the root index, meta and stats differ: they describe the whole corpus there)."""
    mine = tree_bytes(str(target), skip=("stats.json", "index.json", "meta.json"))
    theirs = tree_bytes(clean_out)
    assert len(mine) > 8 and mine == {k: theirs[k] for k in mine}
    assert sorted(d for d in os.listdir(target) if "-0000" in d) == [
        f"{s}-0000{i}" for s in SUBSET for i in (0, 1)
    ]


def test_transient_failures_are_retried_and_the_set_is_identical(clean, tmp_path):
    out, _ = clean
    target = tmp_path / "retried"
    summary = run(
        subset_job(target), worker_cls=failing(tmp_path, ["wikipedia-00000", "c4-00001"], ConnectionError)
    )
    assert summary.complete and sorted(os.listdir(tmp_path / "marks")) == ["c4-00001", "wikipedia-00000"]
    same_partitions(target, out)


def test_an_exception_mid_write_fails_at_once_and_publishes_nothing(clean, tmp_path):
    out, _ = clean
    target = tmp_path / "broken"
    with pytest.raises(JobError, match="partition c4-00000: ValueError: injected ValueError in c4-00000"):
        run(subset_job(target, workers=1), worker_cls=failing(tmp_path, ["c4-00000"], ValueError))
    assert len(os.listdir(tmp_path / "marks")) == 1  # a deterministic error is not retried
    assert not partition_state(target, "c4-00000") and not (target / "c4-00000").exists()
    assert not list(target.glob("c4-00000.partial*")) and not (target / schema.INDEX_FILE).exists()
    assert run(subset_job(target)).complete
    same_partitions(target, out)


def test_a_partial_partition_with_old_stats_is_redone(clean, tmp_path):
    """What the old writer left after a crash: an index.json naming only the shards written so far, next to
    the complete stats of an earlier run. It must not be merged."""
    out, _ = clean
    target = tmp_path / "partial"
    assert run(subset_job(target)).complete
    index = json.loads((target / "c4-00001" / "index.json").read_text())
    assert len(index["shards"]) > 1
    index["shards"] = index["shards"][:1]
    (target / "c4-00001" / "index.json").write_text(json.dumps(index))
    (target / "c4-00000" / "index.json").write_bytes(b"")  # 0 bytes: written on a full disk
    assert not partition_state(target, "c4-00001") and not partition_state(target, "c4-00000")
    again = run(subset_job(target))
    assert again.complete and again.partitions_skipped == 2
    same_partitions(target, out)


def _mount_tmpfs(path, size: str) -> bool:
    os.makedirs(path, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]).returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_disk_marks_nothing_complete_and_the_rerun_is_identical(clean, tmp_path):
    out, _ = clean
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "400k"):
        pytest.skip("cannot mount a tmpfs here")
    try:
        target = disk / "set"
        with pytest.raises(JobError, match="No space left on device"):
            run(subset_job(target))
        names = {"stats", "rejects", "tokenizer"}
        parts = [d for d in os.listdir(target) if (target / d).is_dir() and d not in names]
        assert all(partition_state(target, d) for d in parts)  # whatever looks finished is finished
        assert not [d for d in parts if ".partial" in d] and not (target / schema.INDEX_FILE).exists()
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        assert run(subset_job(target)).complete
        same_partitions(target, out)
    finally:
        subprocess.run(["umount", "-l", str(disk)])


def test_user_errors_are_found_on_the_driver(tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        run(job(tmp_path / "a-file"))
    with pytest.raises(ConfigError, match="max_patches"):
        run(dataclasses.replace(job(tmp_path / "x"), max_patches=5000))  # wider than a cairo surface can be
    assert not (tmp_path / "x").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only tmpfs needs root")
def test_a_read_only_output_is_found_on_the_driver(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        with pytest.raises(ConfigError, match="read-only"):
            run(job(ro / "set"))
    finally:
        subprocess.run(["umount", "-l", str(ro)])


def ray_processes(session: str) -> list[int]:
    import psutil

    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            if any(session in a for a in (p.info["cmdline"] or [])):
                found.append(p.pid)
        except psutil.Error:
            pass
    return found


@pytest.mark.slow
def test_a_killed_driver_leaves_no_ray_and_the_rerun_is_identical(clean, tmp_path):
    """The driver (with its own in-process Ray) is SIGKILLed while partitions are being written; its Ray goes
    away with it, and running the same command again completes a set identical to an uninterrupted run's."""
    out, _ = clean
    target = tmp_path / "killed"
    cmd = [sys.executable, os.path.join(REPO, "pipelines", "render_corpus.py"), "--output", str(target),
           "--max-patches", "128", "--size-limit", "1mb", "--workers", "1"]  # fmt: skip
    for source, files in sample_inputs().items():
        if source in SUBSET:
            cmd += [f"--input={source}={f}" for f in files]
    short_tmp = tempfile.mkdtemp(prefix="pxk-", dir="/tmp")  # Ray's unix sockets: paths under 108 bytes
    env = dict(os.environ, TMPDIR=short_tmp)
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    session, lines = None, []
    deadline = time.time() + 240
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("ray: in-process, session "):
            session = line.split("session ", 1)[1].strip()
        if line.startswith("[1/"):  # one partition published: the next one is being written
            break
        assert time.time() < deadline, "".join(lines)
    assert session, "".join(lines)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.time() + 30
    while ray_processes(session) and time.time() < deadline:
        time.sleep(0.5)
    assert ray_processes(session) == []
    assert not (target / schema.INDEX_FILE).exists()
    shutil.rmtree(short_tmp, ignore_errors=True)
    # The same job again (in this process: a second driver start would only repeat Ray's start-up)
    again = run(subset_job(target, workers=1))
    assert again.complete and again.partitions_skipped >= 1
    same_partitions(target, out)
