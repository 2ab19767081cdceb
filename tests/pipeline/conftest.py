"""One real local Ray and one real S3 server (moto, in-process, 127.0.0.1) for the pipeline test session."""

import contextlib
import glob
import os
import shutil
import sys
import tempfile

import pytest


def pytest_runtest_teardown(item, nextitem):
    """Shut the session's Ray down after the last pipeline test: later folders need its CPUs and memory."""
    here = os.path.dirname(os.path.abspath(__file__))
    if nextitem is None or os.path.dirname(str(nextitem.path)) != here:
        ray = sys.modules.get("ray")
        if ray is not None and ray.is_initialized():
            ray.shutdown()


@pytest.fixture(scope="session", autouse=True)
def private_tmpdir():
    """Streaming's lock files and the job's staging go to a private temp dir; our /dev/shm segments are
    removed at the end."""
    tmp = tempfile.mkdtemp(prefix="pxt-", dir="/tmp")  # short: Ray puts unix sockets below it
    old_env, old_tempdir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = tmp
    tempfile.tempdir = tmp
    shm_before = set(glob.glob("/dev/shm/[0-9][0-9][0-9][0-9][0-9][0-9]_*"))
    yield tmp
    tempfile.tempdir = old_tempdir
    if old_env is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = old_env
    for path in set(glob.glob("/dev/shm/[0-9][0-9][0-9][0-9][0-9][0-9]_*")) - shm_before:
        with contextlib.suppress(OSError):
            os.remove(path)
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_local(s3_bucket):
    """Started after the S3 server so that the renderer actors inherit S3_ENDPOINT_URL and the credentials."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def s3_bucket(s3_server):
    """Bucket 'shards' on the session's S3 server (tests/conftest.py)."""
    s3_server.create_bucket(Bucket="shards")
    return "shards"


@pytest.fixture(scope="session")
def clean(ray_local, tmp_path_factory):
    """The sample corpus rendered once, without faults: (output folder, Summary)."""
    from pipeline_helpers import job

    from pixelgpt.dataset.job import run

    out = tmp_path_factory.mktemp("clean") / "set"
    summary = run(job(out))
    return str(out), summary
