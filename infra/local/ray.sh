#!/usr/bin/env bash
# A local Ray head for `ray job submit` during development, started from the project venv (so jobs run with
# its python) and stopped by pid: `ray stop` would kill every Ray process of the user machine-wide.
#   infra/local/ray.sh start [NUM_CPUS]   head on 127.0.0.1, dashboard/job API at http://127.0.0.1:8265
#   infra/local/ray.sh submit ARGS...     ray job submit --working-dir . -- python pipelines/render_corpus.py ARGS
#   infra/local/ray.sh status | stop
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR="${RAY_LOCAL_DIR:-.cache/ray}"
mkdir -p "$DIR" && DIR="$(cd "$DIR" && pwd)"  # absolute: ray start wants an absolute --temp-dir
PIDFILE="$DIR/ray.pid"
LOG="$DIR/ray.log"
export RAY_AUTH_MODE=disabled           # else the first ray.init enables token auth and job submit fails
export RAY_USAGE_STATS_ENABLED=0
export RAY_ENABLE_UV_RUN_RUNTIME_ENV=0  # else workers rebuild the uv venv for every job
export RAY_API_SERVER_ADDRESS="http://127.0.0.1:8265"

NAME=ray
source infra/local/pidfile.sh

case "${1:-}" in
  start)
    if running; then echo "ray: already running (pid $(cat "$PIDFILE"))"; exit 0; fi
    mkdir -p "$DIR"
    # --block keeps one parent process in the foreground of this pid; SIGTERM to it stops the processes it
    # started, and only those. A private --temp-dir keeps its ray_current_cluster file (which SIGTERM leaves
    # behind) out of /tmp/ray, where every plain ray.init() on the machine would try to join it.
    uv run ray start --head --block --node-ip-address 127.0.0.1 --dashboard-host 127.0.0.1 \
      --temp-dir "$DIR/tmp" --num-cpus "${2:-$(nproc)}" --disable-usage-stats >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    wait_up "$RAY_API_SERVER_ADDRESS/api/version" 120 1
    echo "ray: head running (pid $(cat "$PIDFILE")); export RAY_API_SERVER_ADDRESS=$RAY_API_SERVER_ADDRESS"
    ;;
  submit)
    shift
    # The job's S3 settings come from this shell (local dev credentials; a cluster uses secrets instead).
    env_json="$(python3 -c 'import json, os
keys = ["S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"]
env = {k: os.environ[k] for k in keys if os.environ.get(k)}
print(json.dumps({"env_vars": {**env, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}}))')"
    uv run ray job submit --working-dir . --runtime-env-json "$env_json" -- \
      python pipelines/render_corpus.py "$@"
    ;;
  status)
    if running; then echo "ray: running (pid $(cat "$PIDFILE"))"; else echo "ray: stopped"; exit 1; fi
    ;;
  stop)
    stop_started 30 1
    rm -f "$DIR/tmp/ray_current_cluster"
    ;;
  *) echo "usage: $0 start [NUM_CPUS] | submit ARGS... | status | stop" >&2; exit 2 ;;
esac
