#!/usr/bin/env bash
# A local Ray head for `ray job submit` during development, started from the project venv (so jobs run with
# its python), bound to 127.0.0.1, and stopped by pid: `ray stop` would kill every Ray process of the user
# machine-wide.
#   infra/local/ray.sh start [NUM_CPUS]   head on 127.0.0.1; returns once the job API accepts jobs
#   infra/local/ray.sh submit ARGS...     ray job submit --working-dir . -- python pipelines/render_corpus.py ARGS
#   infra/local/ray.sh status | stop
# Ports (env): RAY_PORT (GCS, 6379), RAY_DASHBOARD_PORT (job API, 8265), RAY_CLIENT_PORT (10001),
# RAY_DASHBOARD_AGENT_PORT (52365); folder:
# RAY_LOCAL_DIR (.cache/ray). The job gets this shell's S3_ENDPOINT_URL and AWS_* through --runtime-env-json.
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR="${RAY_LOCAL_DIR:-.cache/ray}"
mkdir -p "$DIR" && DIR="$(cd "$DIR" && pwd)"  # absolute: ray start wants an absolute --temp-dir
PIDFILE="$DIR/ray.pid"
LOG="$DIR/ray.log"
RAY_PORT="${RAY_PORT:-6379}"
RAY_DASHBOARD_PORT="${RAY_DASHBOARD_PORT:-8265}"
RAY_CLIENT_PORT="${RAY_CLIENT_PORT:-10001}"
export RAY_AUTH_MODE=disabled           # else the first ray.init enables token auth and job submit fails
export RAY_USAGE_STATS_ENABLED=0
export RAY_ENABLE_UV_RUN_RUNTIME_ENV=0  # else workers rebuild the uv venv for every job
export RAY_API_SERVER_ADDRESS="http://127.0.0.1:$RAY_DASHBOARD_PORT"

NAME=ray
source infra/local/pidfile.sh

# The job API answers before the head's job agent has registered; until it has, submits fail with "No
# available agent". Probe with what a submit does (POST /api/jobs/), with an entrypoint that does nothing.
wait_for_job_agent() {
  local tries="$1"
  for _ in $(seq 1 "$tries"); do
    if ! running; then echo "ray: exited; see $LOG" >&2; exit 1; fi
    if uv run python - "$RAY_API_SERVER_ADDRESS" <<'EOF'
import json, sys, urllib.error, urllib.request
request = urllib.request.Request(f"{sys.argv[1]}/api/jobs/", data=json.dumps({"entrypoint": "true"}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
try:
    urllib.request.urlopen(request, timeout=10)
except (urllib.error.URLError, OSError):
    sys.exit(1)
EOF
    then return 0; fi
    sleep 1
  done
  echo "ray: the job agent did not come up; see $LOG" >&2
  exit 1
}

case "${1:-}" in
  start)
    if running; then echo "ray: already running (pid $(cat "$PIDFILE"))"; exit 0; fi
    mkdir -p "$DIR"
    # --block keeps one parent process in the foreground of this pid; SIGTERM to it stops the processes it
    # started, and only those. A private --temp-dir keeps its ray_current_cluster file (which SIGTERM leaves
    # behind) out of /tmp/ray, where every plain ray.init() on the machine would try to join it.
    uv run ray start --head --block --node-ip-address 127.0.0.1 --port "$RAY_PORT" \
      --dashboard-host 127.0.0.1 --dashboard-port "$RAY_DASHBOARD_PORT" \
      --ray-client-server-port "$RAY_CLIENT_PORT" --dashboard-agent-listen-port "${RAY_DASHBOARD_AGENT_PORT:-52365}" \
      --temp-dir "$DIR/tmp" --num-cpus "${2:-$(nproc)}" --disable-usage-stats >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    wait_up "$RAY_API_SERVER_ADDRESS/api/version" 120 1
    wait_for_job_agent 120
    echo "ray: head running (pid $(cat "$PIDFILE")); export RAY_API_SERVER_ADDRESS=$RAY_API_SERVER_ADDRESS"
    ;;
  submit)
    shift
    # The job's S3 settings come from this shell (local dev credentials; a cluster uses secrets instead), the
    # way Ray documents it: environment variables in the runtime env.
    env_json="$(python3 -c 'import json, os
keys = ["S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN"]
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
