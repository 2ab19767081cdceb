#!/usr/bin/env bash
# Several "hosts" on one Linux machine, for multi-node tests and rehearsals (root only). Each host has
#   - its own network namespace: an eth0 with its own address on a private /24, joined to the other hosts
#     by veth pairs and a bridge (the bridge holds .254, so this machine reaches the hosts too; there is no
#     route out of the /24, so their traffic stays on those addresses);
#   - its own UTS namespace (hostname px<ID>-h<I>) and mount namespace: a private tmpfs on /dev/shm (streaming
#     and torch name their shared memory segments per machine, and would collide on one kernel) and an
#     /etc/hosts naming every host of the session;
#   - its own folder, $HOSTS_DIR/h<I> (default /tmp/pxh-<ID>/h<I>), given to commands as TMPDIR and PXHOST_DIR,
#     for working folders, Ray's temp dir and caches (the file system itself is shared with this machine).
# A session has a random id, so parallel or stale sessions never collide on names, addresses or folders.
#
#   infra/local/hosts.sh up [N]               make N hosts (default 2); prints the session id last
#   infra/local/hosts.sh exec ID I CMD...     run CMD on host I (0-based), in the caller's folder, with
#                                             TMPDIR=PXHOST_DIR=<host folder>, PXHOST_ADDR=<its address>
#   infra/local/hosts.sh addr ID I            the address of host I
#   infra/local/hosts.sh pids ID I            the pids of every process on host I
#   infra/local/hosts.sh kill ID I [SIGNAL]   signal every process on host I (default KILL): the host "fails"
#   infra/local/hosts.sh down ID              stop every process of the session, remove it all
#   infra/local/hosts.sh gc                   `down` every session whose owner process has exited
#   infra/local/hosts.sh list                 the sessions present: id, hosts, subnet, owner pid, alive?
# The owner of a session is $HOSTS_OWNER_PID (default: the caller of `up`); `gc` removes the sessions of
# owners that are gone (a test run killed before it could clean up).
set -euo pipefail

STATE_ROOT="${HOSTS_STATE:-/run/pxhosts}"  # per session: settings and the namespace files

die() { echo "hosts: $*" >&2; exit 1; }

# load ID: the settings `up` wrote for session ID
load() {
  [[ "$1" =~ ^[0-9a-f]{6}$ ]] || die "bad session id '$1'"
  STATE="$STATE_ROOT/$1"
  [[ -f "$STATE/env" ]] || die "no session $1"
  # shellcheck disable=SC1091
  source "$STATE/env"
}

netns_name() { echo "px$ID-h$1"; }

# pids_of I: every process whose network namespace is host I's (whatever started it)
pids_of() {
  local want pid
  want="$(stat -L -c %i "/run/netns/$(netns_name "$1")" 2>/dev/null)" || return 0
  for pid in /proc/[0-9]*; do
    pid="${pid#/proc/}"
    [[ "$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)" == "$want" ]] && echo "$pid"
  done
  return 0
}

# kill_host I SIGNAL: signal every process on host I
kill_host() {
  local pids
  pids="$(pids_of "$1")"
  [[ -z "$pids" ]] || kill -s "$2" $pids 2>/dev/null || true
}

# teardown: everything of the loaded session, whatever state `up` reached (each step tolerates absence)
teardown() {
  local i tries
  for ((i = 0; i < N; i++)); do kill_host "$i" TERM; done
  for tries in $(seq 1 20); do  # up to 5 s for a clean exit, then KILL
    local left=""
    for ((i = 0; i < N; i++)); do left+="$(pids_of "$i")"; done
    [[ -z "$left" ]] && break
    sleep 0.25
  done
  for ((i = 0; i < N; i++)); do
    kill_host "$i" KILL
    ip netns del "$(netns_name "$i")" 2>/dev/null || true  # takes its end of the veth pair with it
    for ns in mnt uts; do umount "$STATE/h$i.$ns" 2>/dev/null || true; done
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  umount "$STATE" 2>/dev/null || true
  rm -rf "$STATE"
  if [[ "$DIR" == /*/* ]]; then rm -rf "$DIR"; fi  # never / or a top-level folder, whatever HOSTS_DIR said
}

# free_subnet: a 10.X.Y (X in 200..249) that no address or route of this machine uses
free_subnet() {
  local x y used
  used="$(ip -4 addr show; ip -4 route show table all)"
  for _ in $(seq 1 50); do
    x=$((200 + RANDOM % 50)); y=$((RANDOM % 256))
    grep -q "10\.$x\.$y\." <<<"$used" || { echo "10.$x.$y"; return 0; }
  done
  die "no free 10.x.y.0/24 subnet found"
}

# reachable ADDR: a TCP connect to a closed port of ADDR is refused at once when the host is there (no ping
# on minimal machines); a missing host times out or has no route
reachable() {
  local err
  err="$(timeout 3 bash -c "exec 3<>/dev/tcp/$1/9" 2>&1)" && return 0
  [[ "$err" == *"refused"* ]]
}

cmd_up() {
  local n="${1:-2}" i
  [[ "$(id -u)" == 0 ]] || die "needs root (network and mount namespaces)"
  [[ "$n" =~ ^[1-9]$ ]] || die "want 1..9 hosts, got '$n'"
  command -v ip >/dev/null && command -v unshare >/dev/null && command -v nsenter >/dev/null \
    || die "needs ip (iproute2), unshare and nsenter (util-linux)"
  ID="$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  STATE="$STATE_ROOT/$ID"
  N="$n"
  NET="$(free_subnet)"
  BRIDGE="pxb$ID"
  DIR="${HOSTS_DIR:-/tmp/pxh-$ID}"
  mkdir -p "$STATE"
  cat >"$STATE/env" <<EOF
ID=$ID
N=$N
NET=$NET
BRIDGE=$BRIDGE
DIR=$DIR
OWNER=${HOSTS_OWNER_PID:-$PPID}
EOF
  trap 'teardown; die "up failed; removed what was made"' ERR
  # The namespace files are bind mounts, which must sit on a private mount (else the new mount namespace
  # would see its own file and the bind would fail).
  mount --bind "$STATE" "$STATE"
  mount --make-private "$STATE"
  ip link add "$BRIDGE" type bridge
  ip addr add "$NET.254/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  : >"$STATE/hosts"
  for ((i = 0; i < N; i++)); do echo "$NET.$((i + 1)) px$ID-h$i" >>"$STATE/hosts"; done
  echo "127.0.0.1 localhost" >>"$STATE/hosts"
  for ((i = 0; i < N; i++)); do
    local ns veth
    ns="$(netns_name "$i")"
    veth="pxv$ID$i"
    ip netns add "$ns"
    ip link add "$veth" type veth peer name eth0 netns "$ns"
    ip link set "$veth" master "$BRIDGE" up
    ip -n "$ns" addr add "$NET.$((i + 1))/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    mkdir -p "$DIR/h$i"
    touch "$STATE/h$i.mnt" "$STATE/h$i.uts"
    # Persistent mount and UTS namespaces (bound to files, no process holds them), made from inside the
    # host's network namespace so that its /sys shows the host's own interfaces.
    nsenter --net="/run/netns/$ns" unshare --mount="$STATE/h$i.mnt" --uts="$STATE/h$i.uts" \
      --propagation private sh -c '
        set -e
        hostname "$1"
        mount -t tmpfs -o size=4g,mode=1777 "shm-$1" /dev/shm
        mount --bind "$2" /etc/hosts
        umount -l /sys && mount -t sysfs "sys-$1" /sys' _ "px$ID-h$i" "$STATE/hosts"
  done
  trap - ERR
  # the hosts reach each other (and this machine reaches them) before anyone relies on it
  for ((i = 0; i < N; i++)); do
    reachable "$NET.$((i + 1))" || { teardown; die "host $i does not answer"; }
  done
  echo "$ID"
}

cmd_exec() {
  load "$1"
  local i="$2"
  shift 2
  [[ "$i" =~ ^[0-9]+$ && "$i" -lt "$N" ]] || die "no host $i in session $ID"
  [[ $# -gt 0 ]] || die "exec: no command"
  exec nsenter --net="/run/netns/$(netns_name "$i")" --mount="$STATE/h$i.mnt" --uts="$STATE/h$i.uts" -- \
    env -C "$PWD" TMPDIR="$DIR/h$i" PXHOST_DIR="$DIR/h$i" PXHOST_ADDR="$NET.$((i + 1))" "$@"
}

cmd_gc() {
  local s
  for s in "$STATE_ROOT"/*/env; do
    [[ -f "$s" ]] || continue
    ( source "$s"; kill -0 "$OWNER" 2>/dev/null ) && continue
    echo "hosts: removing stale session $(basename "$(dirname "$s")")"
    ( load "$(basename "$(dirname "$s")")"; teardown )
  done
}

cmd_list() {
  local s
  for s in "$STATE_ROOT"/*/env; do
    [[ -f "$s" ]] || continue
    ( source "$s"; alive=no; kill -0 "$OWNER" 2>/dev/null && alive=yes
      echo "$ID hosts=$N subnet=$NET.0/24 dir=$DIR owner=$OWNER alive=$alive" )
  done
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  exec) shift; [[ $# -ge 2 ]] || die "usage: exec ID I CMD..."; cmd_exec "$@" ;;
  addr) load "$2"; [[ "$3" -lt "$N" ]] || die "no host $3"; echo "$NET.$(($3 + 1))" ;;
  pids) load "$2"; pids_of "$3" ;;
  kill) load "$2"; kill_host "$3" "${4:-KILL}" ;;
  down) load "$2"; teardown ;;
  gc) cmd_gc ;;
  list) cmd_list ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
esac
