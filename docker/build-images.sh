#!/usr/bin/env bash
# Builds the images Gantry's tests and benchmarks deploy, and pushes the demo app to the local
# registry (run as `npm run images`):
#
#   gantry/node-base:<node version>-<hash>   FROM scratch: the host's node binary and its libraries
#   gantry/demo-app:{v1,v2,v3,v4,broken,deaf} docker/demo-app on top of node-base (v3, v4: for
#                                            image retention, which needs four versions; deaf:
#                                            its PID 1 ignores SIGTERM, so a stop takes the
#                                            whole stop timeout)
#   <registry>/gantry/demo-app:{…}           the same, pushed to the registry from env.json
#
# Re-runs are cheap: every image carries a hash of its inputs (the node-base tag, a label on the
# demo images) and is rebuilt only when that hash changes; a push is skipped when the registry
# already serves the digest the local image was last pushed as.
#
# DOCKER_HOST and the registry come from $GANTRY_DEV_HOME/env.json (written by
# `npm run services -- up`) unless DOCKER_HOST / GANTRY_DEV_REGISTRY are set.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
APP_SRC=$ROOT/docker/demo-app
BUILD=$APP_SRC/build
DEV_HOME=${GANTRY_DEV_HOME:-/tmp/gantry-dev}
ENV_FILE=$DEV_HOME/env.json
NODE_BIN=/usr/bin/node
VARIANTS=(v1 v2 v3 v4 broken deaf)
HASH_LABEL=org.gantry.inputs-hash
HINT='start the local services with `npm run services -- up`'
export DOCKER_BUILDKIT=0 # the engine here has no buildx; the classic builder is all we need

log() { printf '[images] %s\n' "$*"; }
die() { printf '[images] error: %s\n' "$*" >&2; exit 1; }
ms_since() { local now=${EPOCHREALTIME//[.,]/} start=${1//[.,]/}; echo "$(((now - start) / 1000)) ms"; }
T0=$EPOCHREALTIME
timed() { # timed WHAT CMD... : runs CMD and logs how long it took
  local what=$1 t=$EPOCHREALTIME; shift
  "$@"
  log "$what: $(ms_since "$t")"
}
quietly() { # quietly LOGFILE CMD... : keeps docker's chatter in LOGFILE, shows its tail on failure
  local logf=$1; shift
  if ! "$@" >"$logf" 2>&1; then
    tail -n 30 "$logf" >&2
    die "'$*' failed (full log: $logf)"
  fi
}
hash_of() { sha256sum | cut -c1-12; } # stdin → short hash

env_field() { # env_field NAME : a string field of env.json, empty when absent
  node -e 'const v = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[process.argv[2]]; process.stdout.write(typeof v === "string" ? v : "")' "$ENV_FILE" "$1" \
    || die "cannot read $ENV_FILE"
}

# ---------------------------------------------------------------------------------------------
# Where docker and the registry are. Nothing is built unless both answer.
if [ -z "${DOCKER_HOST:-}" ]; then
  [ -f "$ENV_FILE" ] || die "DOCKER_HOST is not set and $ENV_FILE is missing: $HINT"
  DOCKER_HOST=$(env_field dockerHost)
  [ -n "$DOCKER_HOST" ] || die "$ENV_FILE has no dockerHost: $HINT"
  export DOCKER_HOST
fi
REGISTRY=${GANTRY_DEV_REGISTRY:-}
if [ -z "$REGISTRY" ] && [ -f "$ENV_FILE" ]; then REGISTRY=$(env_field registry); fi
REGISTRY=${REGISTRY:-127.0.0.1:5000}

timeout 15 docker version --format '{{.Server.Version}}' >/dev/null 2>&1 \
  || die "docker is not reachable at $DOCKER_HOST: $HINT"
registry_digest() { # registry_digest REPO TAG : the manifest digest the registry serves, or nothing
  node -e '
    const [registry, repo, tag] = process.argv.slice(1);
    fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, {
      method: "HEAD",
      headers: { Accept: "application/vnd.docker.distribution.manifest.v2+json" },
      signal: AbortSignal.timeout(5000),
    }).then((r) => { if (r.ok) process.stdout.write(r.headers.get("docker-content-digest") ?? ""); process.exit(r.ok || r.status === 404 ? 0 : 1); },
            () => process.exit(1));' "$REGISTRY" "$1" "$2"
}
registry_digest gantry/demo-app none >/dev/null || die "registry is not reachable at http://$REGISTRY: $HINT"

# Two runs at once (parallel test workers) would build the same tags; take turns instead.
mkdir -p "$BUILD/logs"
exec 9>"$BUILD/.lock"
flock 9

# ---------------------------------------------------------------------------------------------
# node-base: the node binary and exactly the shared libraries it links, at their host paths, plus
# just enough /etc for user lookups. The tag is derived from the node version and the identity
# of every file copied, so an unchanged node means an existing tag means no build.
node_libs() { # the absolute paths ldd resolves for node, the dynamic loader included
  local out; out=$(ldd "$NODE_BIN") || die "ldd $NODE_BIN failed"
  if grep -q 'not found' <<<"$out"; then die "$NODE_BIN has unresolved libraries: $out"; fi
  awk '$2 == "=>" && $3 ~ /^\// { print $3; next } $1 ~ /^\// { print $1 }' <<<"$out"
}
[ -x "$NODE_BIN" ] || die "$NODE_BIN is missing: the images are built from the host's node"
mapfile -t LIBS < <(node_libs)
PASSWD=$'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n'
GROUP=$'root:x:0:\nnogroup:x:65534:\n'
BASE_DOCKERFILE=$'FROM scratch\nCOPY rootfs/ /\n'
NODE_VERSION=$("$NODE_BIN" --version)
# size+mtime rather than content: hashing ~100 MB on every run would cost more than the rest.
BASE_HASH=$({ echo "$NODE_VERSION"; stat -L -c '%n %s %Y' "$NODE_BIN" "${LIBS[@]}"; echo "$PASSWD$GROUP$BASE_DOCKERFILE"; } | hash_of)
BASE_IMAGE=gantry/node-base:${NODE_VERSION#v}-$BASE_HASH

build_base() {
  local ctx=$BUILD/node-base f
  rm -rf "$ctx"
  mkdir -p "$ctx/rootfs/etc" "$ctx/rootfs/tmp"
  chmod 1777 "$ctx/rootfs/tmp"
  for f in "$NODE_BIN" "${LIBS[@]}"; do
    mkdir -p "$ctx/rootfs$(dirname "$f")"
    cp -L "$f" "$ctx/rootfs$f" # -L: /lib64/ld-linux-x86-64.so.2 and friends are symlinks on the host
  done
  printf '%s' "$PASSWD" >"$ctx/rootfs/etc/passwd"
  printf '%s' "$GROUP" >"$ctx/rootfs/etc/group"
  printf '%s' "$BASE_DOCKERFILE" >"$ctx/Dockerfile"
  # Fixed mtimes make the layer byte-identical across rebuilds, so after a `docker rmi` the
  # registry (and the local layer store) still has it and the push of 100 MB is skipped.
  find "$ctx/rootfs" -exec touch -h -d @0 {} +
  quietly "$BUILD/logs/node-base.log" docker build -t "$BASE_IMAGE" --label "$HASH_LABEL=$BASE_HASH" "$ctx"
  rm -rf "$ctx" # 100 MB we no longer need; the tag is what marks it built
}
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "$BASE_IMAGE: up to date"
else
  timed "$BASE_IMAGE: built" build_base
fi

# ---------------------------------------------------------------------------------------------
# demo-app variants, from one Dockerfile and one build context.
APP_CTX=$BUILD/app
mkdir -p "$APP_CTX"
cp "$APP_SRC/Dockerfile" "$APP_SRC/server.js" "$APP_SRC/healthcheck.js" "$APP_CTX/"
touch -d @0 "$APP_CTX"/* # reproducible COPY layer, as for node-base
APP_FILES_HASH=$(cd "$APP_CTX" && sha256sum Dockerfile server.js healthcheck.js | hash_of)

build_variant() { # build_variant VARIANT IMAGE HASH
  local flavor=ok
  case $1 in broken | deaf) flavor=$1 ;; esac
  quietly "$BUILD/logs/demo-app-$1.log" docker build -t "$2" --label "$HASH_LABEL=$3" \
    --build-arg "BASE=$BASE_IMAGE" --build-arg "APP_VERSION=$1" --build-arg "APP_FLAVOR=$flavor" "$APP_CTX"
}
push_variant() { # push_variant VARIANT REMOTE_IMAGE
  local remote digest
  remote=$(registry_digest gantry/demo-app "$1") || die "registry at http://$REGISTRY stopped answering"
  # RepoDigests records what this exact image was pushed as; a match means the registry has it.
  if [ -n "$remote" ] && docker image inspect -f '{{range .RepoDigests}}{{println .}}{{end}}' "$2" | grep -qxF "$REGISTRY/gantry/demo-app@$remote"; then
    log "$2: registry already has $remote"
    return
  fi
  timed "$2: pushed" quietly "$BUILD/logs/push-$1.log" docker push "$2"
  digest=$(docker image inspect -f '{{range .RepoDigests}}{{println .}}{{end}}' "$2" | grep -F "$REGISTRY/gantry/demo-app@" | head -n1)
  log "$2: now ${digest#*@}"
}

for v in "${VARIANTS[@]}"; do
  image=gantry/demo-app:$v
  remote=$REGISTRY/$image
  hash=$(echo "$APP_FILES_HASH $BASE_IMAGE $v" | hash_of)
  if [ "$(docker image inspect -f "{{index .Config.Labels \"$HASH_LABEL\"}}" "$image" 2>/dev/null)" = "$hash" ]; then
    log "$image: up to date"
  else
    timed "$image: built" build_variant "$v" "$image" "$hash"
  fi
  docker tag "$image" "$remote"
  push_variant "$v" "$remote"
done

log "done in $(ms_since "$T0"): ${VARIANTS[*]/#/gantry/demo-app:} (also under $REGISTRY/), base $BASE_IMAGE"
