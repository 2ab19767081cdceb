# Sourced by s3.sh and ray.sh: one background process of theirs, tracked by its pid file.
# Needs NAME (for messages), PIDFILE and LOG.

running() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

# wait_up URL TRIES DELAY: until URL answers (or TRIES run out); fails if the process exits meanwhile
wait_up() {
  for _ in $(seq 1 "$2"); do
    if curl -s -o /dev/null "$1"; then return 0; fi
    if ! running; then echo "$NAME: exited; see $LOG" >&2; exit 1; fi
    sleep "$3"
  done
}

# stop_started TRIES DELAY: SIGTERM exactly the process this script started and wait for it to go
stop_started() {
  if running; then
    local pid
    pid="$(cat "$PIDFILE")"
    kill "$pid"
    for _ in $(seq 1 "$1"); do kill -0 "$pid" 2>/dev/null || break; sleep "$2"; done
    echo "$NAME: stopped (pid $pid)"
  else
    echo "$NAME: not running"
  fi
  rm -f "$PIDFILE"
}
