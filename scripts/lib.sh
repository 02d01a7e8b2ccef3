# Shared helpers for scripts/dev, scripts/test and friends. Source it; do not run it.
#
# Everything here is idempotent: a second run finds what the first one set up and reuses it.
# shellcheck shell=bash

PUENTE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PUENTE_ROOT

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

_apt_updated=0
# apt_install PKG... — install the Debian packages that are missing (apt-get update once).
apt_install() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "need root to install: ${missing[*]}"
  if [ "$_apt_updated" -eq 0 ]; then
    log "apt-get update"
    apt-get update -qq >/dev/null || die "apt-get update failed"
    _apt_updated=1
  fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# ensure_docker — make sure a Docker engine answers on the default socket, installing
# Debian's docker.io and starting dockerd in the background when needed.
ensure_docker() {
  if docker info >/dev/null 2>&1; then return 0; fi
  command -v dockerd >/dev/null 2>&1 || apt_install docker.io
  command -v docker >/dev/null 2>&1 || apt_install docker.io
  if ! docker info >/dev/null 2>&1; then
    log "starting dockerd (log: /var/log/puente-dockerd.log)"
    # setsid: the engine must outlive this script (and its Ctrl-C).
    setsid nohup dockerd >/var/log/puente-dockerd.log 2>&1 </dev/null &
    local i
    for i in $(seq 1 60); do
      docker info >/dev/null 2>&1 && break
      sleep 0.5
    done
    docker info >/dev/null 2>&1 || die "dockerd did not come up; see /var/log/puente-dockerd.log"
  fi
}

# pg_bin — the directory holding PostgreSQL's server binaries (initdb, pg_ctl).
pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  return 1
}

# ensure_postgres DATA_DIR PORT — a private cluster owned by the `postgres` user, listening
# on 127.0.0.1:PORT and a socket inside DATA_DIR, trust auth for local connections only.
ensure_postgres() {
  local data="$1" port="$2" bin
  bin="$(pg_bin)" || { apt_install postgresql; bin="$(pg_bin)"; } || die "no PostgreSQL server binaries"
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  mkdir -p "$data"
  chown postgres:postgres "$data"
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initdb $data"
    su postgres -c "$bin/initdb -D '$data' -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null" \
      || die "initdb failed"
  fi
  if su postgres -c "$bin/pg_ctl -D '$data' status" >/dev/null 2>&1; then return 0; fi
  log "starting PostgreSQL on 127.0.0.1:$port"
  su postgres -c "$bin/pg_ctl -D '$data' -l '$data/server.log' -w -t 60 \
      -o \"-p $port -k '$data' -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=${PUENTE_PG_FSYNC:-on}\" start" >/dev/null \
    || { tail -20 "$data/server.log" >&2; die "PostgreSQL did not start"; }
}

# stop_postgres DATA_DIR
stop_postgres() {
  local data="$1" bin
  bin="$(pg_bin)" || return 0
  su postgres -c "$bin/pg_ctl -D '$data' -m fast stop" >/dev/null 2>&1 || true
}

# quietly LABEL CMD... — run CMD with its output in a log; print the log's tail on failure.
quietly() {
  local label="$1" out
  shift
  out="$(mktemp "/tmp/puente-${label// /-}.XXXXXX.log")"
  local rc=0
  "$@" >"$out" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    rm -f "$out"
    return 0
  fi
  tail -n 60 "$out" >&2
  printf '\033[1;31merror:\033[0m %s failed (exit %s); full log: %s\n' "$label" "$rc" "$out" >&2
  return "$rc"
}

# ensure_node — node and npm on PATH (Debian's packages when absent); Vite 8 needs Node ≥ 20.19.
ensure_node() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
  local v
  v="$(node -p 'process.versions.node' 2>/dev/null)" || die "node does not run"
  node -e '
    const [a, b] = process.versions.node.split(".").map(Number);
    process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1);' \
    || die "Node.js $v is too old for the web app (Vite 8 needs ≥ 20.19)"
}

# web_dir — where the web app lives.
web_dir() { echo "$PUENTE_ROOT/web"; }

# ensure_web_deps — `npm ci` in web/ when node_modules is missing or older than the lock file.
ensure_web_deps() {
  local web
  web="$(web_dir)"
  [ -f "$web/package-lock.json" ] || die "$web/package-lock.json is missing"
  # npm writes node_modules/.package-lock.json at the end of a successful install.
  if [ -f "$web/node_modules/.package-lock.json" ] \
    && [ ! "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
    return 0
  fi
  log "npm ci (web/)"
  (cd "$web" && quietly "npm ci" npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
  touch "$web/node_modules/.package-lock.json"
}

# web_is_stale — true when web/dist/index.html is missing or older than any input of the build.
web_is_stale() {
  local web stamp
  web="$(web_dir)"
  stamp="$web/dist/index.html"
  [ -f "$stamp" ] || return 0
  local inputs=()
  local f
  for f in src public index.html package.json package-lock.json vite.config.ts tsconfig.json \
    tsconfig.app.json tsconfig.node.json; do
    [ -e "$web/$f" ] && inputs+=("$web/$f")
  done
  [ -n "$(find "${inputs[@]}" -newer "$stamp" -print -quit 2>/dev/null)" ]
}

# build_web — `npm run build` in web/ when web/dist is missing or stale. Returns non-zero
# (after printing the build's output) when the build fails; the caller decides.
build_web() {
  web_is_stale || return 0
  log "building the web app (web/dist)"
  (cd "$(web_dir)" && quietly "npm run build" npm run build) || return 1
  # vite may keep index.html's mtime from a cached copy: mark the build's time.
  touch "$(web_dir)/dist/index.html"
}

# ensure_chromium — Debian's Chromium and fonts legible in screenshots (text and emoji).
ensure_chromium() {
  apt_install chromium fonts-dejavu-core fonts-noto-color-emoji
  [ -x /usr/bin/chromium ] || die "/usr/bin/chromium is missing after installing chromium"
}
