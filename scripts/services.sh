#!/usr/bin/env bash
# Local services for developing and testing Gantry: Docker Engine, etcd, a container registry and
# the haproxy binary. Installs what is missing (Debian packages, as root, only when missing),
# starts each on loopback only, idempotently, and stops only what it started itself.
#
#   scripts/services.sh up     [SERVICE...]   start (default: docker etcd registry haproxy)
#   scripts/services.sh down   [SERVICE...]   stop what this script started
#   scripts/services.sh status [--json]       what is up, where, and how to reach it
#   scripts/services.sh env                   print the exports a shell needs (eval "$(... env)")
#   scripts/services.sh cert NAME [DIR]       a client certificate with CN=NAME from etcd-secure's CA
#
# SERVICE is one of: docker etcd etcd-cluster etcd-secure registry registry-auth haproxy.
# etcd-cluster is a three-member cluster on loopback (ports 23791-23793, or $GANTRY_DEV_CLUSTER_PORTS), for fault tests.
# etcd-secure is one member with TLS, client certificates and auth (https://127.0.0.1:2389, or $GANTRY_DEV_ETCD_SECURE_PORT).
# registry-auth is a registry with htpasswd auth on 127.0.0.1:5001 (or $GANTRY_DEV_REGISTRY_AUTH): user gantry, its
# generated password in $GANTRY_DEV_HOME/registry-auth/password (mode 600).
#
# Everything lives under $GANTRY_DEV_HOME (default /tmp/gantry-dev): state, data, logs, and
# env.json, which tests and benchmarks read to find the services.
set -euo pipefail

HOME_DIR=${GANTRY_DEV_HOME:-/tmp/gantry-dev}
ETCD_PORT=${GANTRY_DEV_ETCD_PORT:-2379}
ETCD_SECURE_PORT=${GANTRY_DEV_ETCD_SECURE_PORT:-2389}
REGISTRY_ADDR=${GANTRY_DEV_REGISTRY:-127.0.0.1:5000}
# Client ports of the cluster's members (peers on PORT+100); GANTRY_DEV_CLUSTER_PORTS="P1 P2 P3" moves them.
read -r -a CLUSTER_PORTS <<< "${GANTRY_DEV_CLUSTER_PORTS:-23791 23792 23793}"
OWN_DOCKER_SOCK="$HOME_DIR/docker.sock"
DEFAULT_SERVICES=(docker etcd registry haproxy)

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$HOME_DIR"/{logs,run}

# ---------------------------------------------------------------------------------------------
# Installing: only when a command is missing, only as root.
APT_UPDATED=0
need() { # need COMMAND DEBIAN_PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" != 0 ]; then
    die "'$1' is missing; install it as root: apt-get install $2"
  fi
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >"$HOME_DIR/logs/apt.log" 2>&1 || die "apt-get update failed (see $HOME_DIR/logs/apt.log)"
    APT_UPDATED=1
  fi
  log "installing $2 (for '$1')"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$2" >>"$HOME_DIR/logs/apt.log" 2>&1 \
    || die "apt-get install $2 failed (see $HOME_DIR/logs/apt.log)"
  command -v "$1" >/dev/null 2>&1 || die "'$1' still missing after installing $2"
}

# ---------------------------------------------------------------------------------------------
# Processes we started: a pidfile each, checked against the live process so a stale file from a
# rebooted machine is never mistaken for a running service.
pidfile() { echo "$HOME_DIR/run/$1.pid"; }
own_pid() { # prints the pid when the service NAME we started is still alive
  local f; f=$(pidfile "$1")
  [ -f "$f" ] || return 1
  local pid; pid=$(cat "$f")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; return 0; fi
  rm -f "$f"; return 1
}
spawn() { # spawn NAME LOGFILE CMD... : detached from this shell so it outlives it
  local name=$1 logf=$2; shift 2
  setsid "$@" >>"$logf" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
}
stop_own() { # stop_own NAME : SIGTERM, wait up to 30 s, then SIGKILL
  local pid
  pid=$(own_pid "$1") || { log "$1: not started by this script, nothing to stop"; return 0; }
  log "$1: stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then log "$1: still alive after 30 s, killing"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$(pidfile "$1")"
}
wait_for() { # wait_for WHAT SECONDS CHECK... : poll CHECK until it succeeds
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what did not come up within ${secs}s"
    sleep 0.2
  done
}
http_ok() { # http_ok URL : 2xx/3xx, using node so no curl is needed
  node -e 'fetch(process.argv[1],{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.status<400?0:1),()=>process.exit(1))' "$1"
}

# ---------------------------------------------------------------------------------------------
# Docker Engine. An engine that already answers (DOCKER_HOST, then the system socket) is used as
# it is; otherwise we start our own dockerd with its own state directories and socket.
docker_answers() { DOCKER_HOST=$1 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
docker_host() { # prints the DOCKER_HOST to use, preferring one that answers
  if [ -n "${DOCKER_HOST:-}" ] && [ "$DOCKER_HOST" != "unix://$OWN_DOCKER_SOCK" ] && docker_answers "$DOCKER_HOST"; then echo "$DOCKER_HOST"; return; fi
  if [ -S /var/run/docker.sock ] && docker_answers unix:///var/run/docker.sock; then echo unix:///var/run/docker.sock; return; fi
  echo "unix://$OWN_DOCKER_SOCK"
}
up_docker() {
  need docker docker.io; need dockerd docker.io
  local host; host=$(docker_host)
  if docker_answers "$host"; then log "docker: already running at $host"; return; fi
  own_pid docker >/dev/null && stop_own docker   # ours but not answering: restart it cleanly
  mkdir -p "$HOME_DIR/docker/data" "$HOME_DIR/docker/exec"
  rm -f "$OWN_DOCKER_SOCK"
  # --live-restore: containers keep running (same port numbers) while dockerd restarts. Measured
  # here: with the default userland proxy their loopback ports are refused from dockerd's stop until
  # it is back (docker-proxy dies with it); with --userland-proxy=false they keep answering but for
  # ~0.2 s while the restarted dockerd rewrites its iptables rules. GANTRY_DEV_DOCKERD_FLAGS appends
  # flags (test/faults/docker.test.ts runs it once with --live-restore=false).
  log "docker: starting dockerd at unix://$OWN_DOCKER_SOCK"
  spawn docker "$HOME_DIR/logs/dockerd.log" dockerd \
    --data-root "$HOME_DIR/docker/data" --exec-root "$HOME_DIR/docker/exec" \
    --pidfile "$HOME_DIR/docker/dockerd.pid" -H "unix://$OWN_DOCKER_SOCK" \
    --ip 127.0.0.1 --live-restore ${GANTRY_DEV_DOCKERD_FLAGS:-}
  wait_for "dockerd (log: $HOME_DIR/logs/dockerd.log)" 60 docker_answers "unix://$OWN_DOCKER_SOCK"
  log "docker: up"
}

# ---------------------------------------------------------------------------------------------
# etcd: one member on 127.0.0.1:$ETCD_PORT, or a three-member cluster on loopback.
etcd_answers() { ETCDCTL_API=3 etcdctl --endpoints "$1" --dial-timeout=1s --command-timeout=2s endpoint health; }
start_etcd_member() { # NAME CLIENT_PORT PEER_PORT INITIAL_CLUSTER DATA_DIR CLUSTER_TOKEN
  local name=$1 cport=$2 pport=$3 cluster=$4 data=$5 token=$6
  mkdir -p "$data"
  spawn "$name" "$HOME_DIR/logs/$name.log" etcd --name "$name" --data-dir "$data" \
    --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token "$token"
}
up_etcd() {
  need etcd etcd-server; need etcdctl etcd-client
  local ep="http://127.0.0.1:$ETCD_PORT"
  if etcd_answers "$ep" >/dev/null 2>&1; then log "etcd: already running at $ep"; return; fi
  own_pid etcd >/dev/null && stop_own etcd
  log "etcd: starting at $ep"
  start_etcd_member etcd "$ETCD_PORT" $((ETCD_PORT + 1)) "etcd=http://127.0.0.1:$((ETCD_PORT + 1))" "$HOME_DIR/etcd/single" gantry-dev
  wait_for "etcd (log: $HOME_DIR/logs/etcd.log)" 30 etcd_answers "$ep"
  log "etcd: up"
}
cluster_endpoints() { local p out=(); for p in "${CLUSTER_PORTS[@]}"; do out+=("http://127.0.0.1:$p"); done; (IFS=,; echo "${out[*]}"); }
up_etcd_cluster() {
  need etcd etcd-server; need etcdctl etcd-client
  local eps; eps=$(cluster_endpoints)
  if etcd_answers "$eps" >/dev/null 2>&1; then log "etcd-cluster: already running at $eps"; return; fi
  local i initial=() p
  for i in 0 1 2; do p=${CLUSTER_PORTS[$i]}; initial+=("etcd-m$i=http://127.0.0.1:$((p + 100))"); done
  local cluster; cluster=$(IFS=,; echo "${initial[*]}")
  for i in 0 1 2; do
    own_pid "etcd-m$i" >/dev/null && continue
    p=${CLUSTER_PORTS[$i]}
    log "etcd-cluster: starting member etcd-m$i at http://127.0.0.1:$p"
    # One token for all members: it is what makes them one cluster.
    start_etcd_member "etcd-m$i" "$p" $((p + 100)) "$cluster" "$HOME_DIR/etcd/m$i" gantry-dev-cluster
  done
  wait_for "etcd cluster (logs: $HOME_DIR/logs/etcd-m*.log)" 60 etcd_answers "$eps"
  log "etcd-cluster: up"
}

# ---------------------------------------------------------------------------------------------
# etcd-secure: one member with TLS (a CA, a server certificate and client certificates, made here
# with openssl) and auth enabled. Every client presents a certificate signed by the CA
# (--client-cert-auth); without a user and password, etcd takes the certificate's CN as the user.
# The root user authenticates either way: certificate CN=root, or the password in root.password.
SECURE_DIR="$HOME_DIR/etcd-secure"
PKI_DIR="$SECURE_DIR/pki"
secure_endpoint() { echo "https://127.0.0.1:$ETCD_SECURE_PORT"; }
secure_ctl() { # etcdctl as root over TLS
  ETCDCTL_API=3 etcdctl --endpoints "$(secure_endpoint)" --cacert "$PKI_DIR/ca.pem" --cert "$PKI_DIR/root.pem" --key "$PKI_DIR/root-key.pem" \
    --dial-timeout=2s --command-timeout=5s "$@"
}
make_ca() {
  [ -f "$PKI_DIR/ca.pem" ] && return
  mkdir -p "$PKI_DIR"; chmod 700 "$PKI_DIR"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=gantry dev etcd CA" \
    -keyout "$PKI_DIR/ca-key.pem" -out "$PKI_DIR/ca.pem" >/dev/null 2>&1 || die "openssl could not make the CA in $PKI_DIR"
}
issue_cert() { # issue_cert FILE_STEM CN [server] : FILE_STEM.pem and FILE_STEM-key.pem, signed by the CA
  local stem=$1 cn=$2 kind=${3:-client} ext
  [ -f "$stem.pem" ] && [ -f "$stem-key.pem" ] && return
  ext=$(mktemp)
  if [ "$kind" = server ]; then
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >"$ext"
  else
    printf 'extendedKeyUsage=clientAuth\n' >"$ext"
  fi
  openssl req -newkey rsa:2048 -nodes -subj "/CN=${cn//\//\\/}" -keyout "$stem-key.pem" -out "$stem.csr" >/dev/null 2>&1 \
    && openssl x509 -req -in "$stem.csr" -CA "$PKI_DIR/ca.pem" -CAkey "$PKI_DIR/ca-key.pem" -CAcreateserial -days 825 \
      -extfile "$ext" -out "$stem.pem" >/dev/null 2>&1 || { rm -f "$ext"; die "openssl could not issue the certificate $stem.pem (CN=$cn)"; }
  rm -f "$ext" "$stem.csr"; chmod 600 "$stem-key.pem"
}
up_etcd_secure() {
  need etcd etcd-server; need etcdctl etcd-client; need openssl openssl
  make_ca
  issue_cert "$PKI_DIR/server" "127.0.0.1" server
  issue_cert "$PKI_DIR/root" root
  # For password users: etcd requires a client certificate of everyone, and takes the password's user over its CN.
  issue_cert "$PKI_DIR/client" gantry-dev-client
  [ -f "$SECURE_DIR/root.password" ] || { (umask 077; node -e 'process.stdout.write(require("crypto").randomBytes(18).toString("base64url"))' >"$SECURE_DIR/root.password"); }
  if secure_ctl endpoint health >/dev/null 2>&1 && [ -f "$SECURE_DIR/auth-enabled" ]; then log "etcd-secure: already running at $(secure_endpoint)"; return; fi
  if ! secure_ctl endpoint health >/dev/null 2>&1; then
    own_pid etcd-secure >/dev/null && stop_own etcd-secure
    mkdir -p "$SECURE_DIR/data"
    log "etcd-secure: starting at $(secure_endpoint) (TLS, client certificates, auth)"
    spawn etcd-secure "$HOME_DIR/logs/etcd-secure.log" etcd --name etcd-secure --data-dir "$SECURE_DIR/data" \
      --listen-client-urls "$(secure_endpoint)" --advertise-client-urls "$(secure_endpoint)" \
      --listen-peer-urls "http://127.0.0.1:$((ETCD_SECURE_PORT + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_SECURE_PORT + 1))" \
      --initial-cluster "etcd-secure=http://127.0.0.1:$((ETCD_SECURE_PORT + 1))" --initial-cluster-state new --initial-cluster-token gantry-dev-secure \
      --cert-file "$PKI_DIR/server.pem" --key-file "$PKI_DIR/server-key.pem" --trusted-ca-file "$PKI_DIR/ca.pem" --client-cert-auth
    wait_for "etcd-secure (log: $HOME_DIR/logs/etcd-secure.log)" 30 secure_ctl endpoint health
  fi
  if [ ! -f "$SECURE_DIR/auth-enabled" ]; then
    # Idempotent: each step may have been done by an earlier run that stopped half-way.
    secure_ctl user get root >/dev/null 2>&1 || secure_ctl user add root --new-user-password "$(cat "$SECURE_DIR/root.password")" >/dev/null
    secure_ctl user grant-role root root >/dev/null 2>&1 || true
    secure_ctl auth enable >/dev/null 2>&1 || secure_ctl user list >/dev/null || die "etcd-secure: could not enable auth (log: $HOME_DIR/logs/etcd-secure.log)"
    touch "$SECURE_DIR/auth-enabled"
  fi
  log "etcd-secure: up (auth enabled; root: certificate $PKI_DIR/root.pem or password in $SECURE_DIR/root.password)"
}
cmd_cert() { # cert NAME [DIR] : a client certificate with CN=NAME signed by etcd-secure's CA
  local name=${1:-} dir=${2:-$PKI_DIR/clients}
  [ -n "$name" ] || die "usage: services.sh cert NAME [DIR]  (a client certificate with CN=NAME for etcd-secure)"
  [ -f "$PKI_DIR/ca.pem" ] || die "no CA yet: run 'scripts/services.sh up etcd-secure' first"
  mkdir -p "$dir"
  local stem; stem="$dir/$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '_')"
  issue_cert "$stem" "$name"
  printf '{"cert": "%s", "key": "%s", "ca": "%s"}\n' "$stem.pem" "$stem-key.pem" "$PKI_DIR/ca.pem"
}

# ---------------------------------------------------------------------------------------------
# Registry (Debian docker-registry, the CNCF distribution registry) on loopback, without auth.
# Docker treats registries on 127.0.0.0/8 as insecure, so plain HTTP push and pull work.
up_registry() {
  need docker-registry docker-registry
  local url="http://$REGISTRY_ADDR/v2/"
  if http_ok "$url"; then log "registry: already running at $REGISTRY_ADDR"; return; fi
  own_pid registry >/dev/null && stop_own registry
  mkdir -p "$HOME_DIR/registry/data"
  cat >"$HOME_DIR/registry/config.yml" <<EOF
version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: $HOME_DIR/registry/data }
  delete: { enabled: true }
http:
  addr: $REGISTRY_ADDR
EOF
  log "registry: starting at $REGISTRY_ADDR"
  spawn registry "$HOME_DIR/logs/registry.log" docker-registry serve "$HOME_DIR/registry/config.yml"
  wait_for "registry (log: $HOME_DIR/logs/registry.log)" 30 http_ok "$url"
  log "registry: up"
}

# ---------------------------------------------------------------------------------------------
# registry-auth: the same Debian docker-registry on loopback, with htpasswd (bcrypt) auth, for the
# registry-credential tests. User gantry; its password is generated once and kept, mode 600, in
# $HOME_DIR/registry-auth/password (the htpasswd file is made from it by apache2-utils' htpasswd,
# the password read from stdin so it never shows in ps).
REGISTRY_AUTH_ADDR=${GANTRY_DEV_REGISTRY_AUTH:-127.0.0.1:5001}
REGISTRY_AUTH_USER=gantry
REGISTRY_AUTH_DIR=$HOME_DIR/registry-auth
registry_auth_answers() { # 0 when /v2/ refuses anonymous access and accepts user gantry with the kept password
  [ -s "$REGISTRY_AUTH_DIR/password" ] || return 1   # never set up here: not ours to ask
  node -e '
    const [url, user, file] = process.argv.slice(1);
    const auth = "Basic " + Buffer.from(user + ":" + require("fs").readFileSync(file, "utf8").trim()).toString("base64");
    const get = (headers) => fetch(url, { headers, signal: AbortSignal.timeout(2000) }).then((r) => r.status);
    Promise.all([get({}), get({ authorization: auth })]).then(([anon, authed]) => process.exit(anon === 401 && authed === 200 ? 0 : 1), () => process.exit(1));
  ' "http://$REGISTRY_AUTH_ADDR/v2/" "$REGISTRY_AUTH_USER" "$REGISTRY_AUTH_DIR/password"
}
up_registry_auth() {
  need docker-registry docker-registry; need htpasswd apache2-utils
  local dir=$REGISTRY_AUTH_DIR
  mkdir -p "$dir/data"; chmod 700 "$dir"
  if [ ! -s "$dir/password" ]; then
    (umask 077; node -e 'process.stdout.write(require("crypto").randomBytes(18).toString("base64url") + "\n")' >"$dir/password")
  fi
  chmod 600 "$dir/password"
  if registry_auth_answers; then log "registry-auth: already running at $REGISTRY_AUTH_ADDR"; return; fi
  own_pid registry-auth >/dev/null && stop_own registry-auth   # ours but not answering (or another password): restart it
  (umask 077; htpasswd -Bin "$REGISTRY_AUTH_USER" <"$dir/password" >"$dir/htpasswd" 2>>"$HOME_DIR/logs/registry-auth.log") \
    || die "htpasswd failed (log: $HOME_DIR/logs/registry-auth.log)"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: $dir/data }
  delete: { enabled: true }
http:
  addr: $REGISTRY_AUTH_ADDR
auth:
  htpasswd: { realm: gantry-dev, path: $dir/htpasswd }
EOF
  log "registry-auth: starting at $REGISTRY_AUTH_ADDR (user $REGISTRY_AUTH_USER, password in $dir/password)"
  spawn registry-auth "$HOME_DIR/logs/registry-auth.log" docker-registry serve "$dir/config.yml"
  wait_for "registry-auth (log: $HOME_DIR/logs/registry-auth.log)" 30 registry_auth_answers
  log "registry-auth: up"
}

# ---------------------------------------------------------------------------------------------
# HAProxy: only the binary; every agent runs its own proxy process.
haproxy_version() { haproxy -v 2>/dev/null | sed -n 's/^HAProxy version \([0-9.]*\).*/\1/p' | head -n1; }
up_haproxy() {
  need haproxy haproxy
  local v; v=$(haproxy_version)
  case "$v" in
    2.[6-9]*|2.[1-9][0-9]*|[3-9].*) log "haproxy: $v at $(command -v haproxy)";;
    *) die "haproxy $v at $(command -v haproxy) is too old: Gantry needs 2.6 or newer";;
  esac
}

# ---------------------------------------------------------------------------------------------
write_env() { # env.json: how tests, benchmarks and the demo reach the services
  local dh; dh=$(docker_host)
  cat >"$HOME_DIR/env.json.tmp" <<EOF
{
  "dockerHost": "$dh",
  "etcdEndpoints": ["http://127.0.0.1:$ETCD_PORT"],
  "etcdClusterEndpoints": ["$(cluster_endpoints | sed 's/,/", "/g')"],
  "etcdSecure": {"endpoints": ["$(secure_endpoint)"], "ca": "$PKI_DIR/ca.pem", "rootCert": "$PKI_DIR/root.pem", "rootKey": "$PKI_DIR/root-key.pem", "rootPasswordFile": "$SECURE_DIR/root.password", "clientCert": "$PKI_DIR/client.pem", "clientKey": "$PKI_DIR/client-key.pem"},
  "registry": "$REGISTRY_ADDR",
  "registryAuth": {"address": "$REGISTRY_AUTH_ADDR", "user": "$REGISTRY_AUTH_USER", "passwordFile": "$REGISTRY_AUTH_DIR/password"},
  "haproxyBin": "$(command -v haproxy || true)",
  "home": "$HOME_DIR"
}
EOF
  mv "$HOME_DIR/env.json.tmp" "$HOME_DIR/env.json"
}

status_rows() { # NAME|STATE|WHERE|HOW-TO-REACH|STARTED-BY
  local dh; dh=$(docker_host)
  local by
  by() { own_pid "$1" >/dev/null && echo "this script (pid $(own_pid "$1"))" || echo "elsewhere"; }
  if command -v docker >/dev/null && docker_answers "$dh"; then
    echo "docker|up|$dh|export DOCKER_HOST=$dh|$(by docker)"
  else echo "docker|down|$dh|scripts/services.sh up docker|-"; fi
  local ep="http://127.0.0.1:$ETCD_PORT"
  if command -v etcdctl >/dev/null && etcd_answers "$ep" >/dev/null 2>&1; then
    echo "etcd|up|$ep|etcdctl --endpoints $ep|$(by etcd)"
  else echo "etcd|down|$ep|scripts/services.sh up etcd|-"; fi
  local eps; eps=$(cluster_endpoints)
  if command -v etcdctl >/dev/null && etcd_answers "$eps" >/dev/null 2>&1; then
    echo "etcd-cluster|up|$eps|etcdctl --endpoints $eps|$(by etcd-m0)"
  else echo "etcd-cluster|down|$eps|scripts/services.sh up etcd-cluster|-"; fi
  if command -v etcdctl >/dev/null && [ -f "$PKI_DIR/root.pem" ] && secure_ctl endpoint health >/dev/null 2>&1; then
    echo "etcd-secure|up|$(secure_endpoint)|etcdctl --endpoints $(secure_endpoint) --cacert $PKI_DIR/ca.pem --cert $PKI_DIR/root.pem --key $PKI_DIR/root-key.pem (root; 'services.sh cert NAME' issues a client certificate)|$(by etcd-secure)"
  else echo "etcd-secure|down|$(secure_endpoint)|scripts/services.sh up etcd-secure|-"; fi
  if http_ok "http://$REGISTRY_ADDR/v2/"; then
    echo "registry|up|$REGISTRY_ADDR|docker push $REGISTRY_ADDR/NAME:TAG|$(by registry)"
  else echo "registry|down|$REGISTRY_ADDR|scripts/services.sh up registry|-"; fi
  if registry_auth_answers; then
    echo "registry-auth|up|$REGISTRY_AUTH_ADDR|docker login $REGISTRY_AUTH_ADDR -u $REGISTRY_AUTH_USER --password-stdin < $REGISTRY_AUTH_DIR/password|$(by registry-auth)"
  else echo "registry-auth|down|$REGISTRY_AUTH_ADDR|scripts/services.sh up registry-auth|-"; fi
  local hv; hv=$(haproxy_version)
  if [ -n "$hv" ]; then echo "haproxy|installed|$(command -v haproxy)|haproxy $hv (each agent runs its own)|-"
  else echo "haproxy|missing|-|scripts/services.sh up haproxy|-"; fi
}
cmd_status() {
  if [ "${1:-}" = "--json" ]; then
    status_rows | node -e '
      const rows = require("fs").readFileSync(0, "utf8").trim().split("\n").map(l => l.split("|"));
      console.log(JSON.stringify(rows.map(([name, state, where, reach, startedBy]) => ({ name, state, where, reach, startedBy })), null, 2));'
  else
    { echo "SERVICE|STATE|WHERE|HOW TO REACH|STARTED BY"; status_rows; } | column -t -s '|'
    echo; echo "env file: $HOME_DIR/env.json"
  fi
}

services_or_default() { if [ $# -eq 0 ]; then echo "${DEFAULT_SERVICES[@]}"; else echo "$@"; fi; }
check_service() { case "$1" in docker|etcd|etcd-cluster|etcd-secure|registry|registry-auth|haproxy) ;; *) die "unknown service '$1' (expected: docker etcd etcd-cluster etcd-secure registry registry-auth haproxy)";; esac; }

cmd=${1:-status}; shift || true
case "$cmd" in
  up)
    for s in $(services_or_default "$@"); do check_service "$s"; done
    for s in $(services_or_default "$@"); do
      t0=$SECONDS; "up_${s//-/_}"; log "$s: ready in $((SECONDS - t0))s"
    done
    write_env ;;
  down)
    for s in $(services_or_default "$@"); do check_service "$s"; done
    for s in $(services_or_default "$@"); do
      case "$s" in
        etcd-cluster) for i in 0 1 2; do stop_own "etcd-m$i"; done ;;
        etcd-secure) stop_own etcd-secure ;;
        registry-auth) stop_own registry-auth ;;
        haproxy) ;;  # nothing runs: agents own their haproxy processes
        *) stop_own "$s" ;;
      esac
    done ;;
  status) cmd_status "$@" ;;
  cert) cmd_cert "$@" ;;
  env) write_env; echo "export DOCKER_HOST=$(docker_host)"; echo "export GANTRY_ETCD_ENDPOINTS=http://127.0.0.1:$ETCD_PORT" ;;
  -h|--help|help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$cmd' (expected: up, down, status, env, cert)" ;;
esac
