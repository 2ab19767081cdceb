"""Settings every test process needs before Ray, streaming or the renderer are imported."""

import os
import socket

import pytest

from pixelgpt.dataset.ray_env import RAY_ENV  # noqa: E402  (imports no Ray)

for _key, _value in RAY_ENV.items():
    os.environ.setdefault(_key, _value)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 server (moto) on 127.0.0.1 for the whole session. S3_ENDPOINT_URL and dummy credentials are
    set in os.environ, so boto3, streaming, Composer and processes or Ray workers started later all reach it.
    Yields a boto3 client; each user creates its own bucket."""
    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    env = {
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield boto3.client("s3", endpoint_url=env["S3_ENDPOINT_URL"])
    finally:
        server.stop()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
