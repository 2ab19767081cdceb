"""Settings every test process needs before Ray, streaming or the renderer are imported."""

import os

os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # else the first ray.init turns token auth on machine-wide
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")  # else Ray workers rebuild the uv venv (GBs)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
