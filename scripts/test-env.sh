#!/usr/bin/env bash
# scripts/test-env.sh - prepare everything Latch's tests need, then run them.
#
# Usage:
#   scripts/test-env.sh test             go test [-race] -count=1 -timeout 20m $PKGS
#   scripts/test-env.sh bench            go test -run '^$' -bench . -benchmem $PKGS
#   scripts/test-env.sh exec CMD [ARG..] any command, with the test environment exported
#
# What it does, in order (each step prints a "[test-env]" line):
#   1. installs missing Debian packages with apt-get (redis-server, redis-tools,
#      redis-sentinel, postgresql, postgresql-client, chromium, hydra (scripts/hydra.sh),
#      curl, haproxy, fonts-nanum (Korean glyphs in the browser tests' screenshots),
#      gcc + libc6-dev for -race);
#   2. checks that `go test -race` can build here (cgo + a C compiler), else runs without -race;
#   3. uses Redis at $LATCH_TEST_REDIS_URL if it answers PING, otherwise starts a throwaway
#      redis-server on a free loopback port (no persistence);
#   4. uses PostgreSQL at $LATCH_TEST_DATABASE_URL if `SELECT 1` works there, otherwise runs
#      initdb in a temp dir (as the `postgres` OS user when we are root), trust auth,
#      listening on 127.0.0.1:<free port>, and creates database `test`;
#   5. exports the test environment and runs the command;
#   6. on exit (normal, failure, Ctrl-C, TERM) stops the throwaway servers and removes their dirs.
#
# Inputs (all optional):
#   PKGS (or GO_TEST_PKGS)   packages for go test, space separated (default ./...)
#   TESTFLAGS                extra go test flags, e.g. "-run TestLogin -v"
#   LATCH_TEST_REDIS_URL     default redis://127.0.0.1:6379/0
#   LATCH_TEST_DATABASE_URL  default postgres://postgres@127.0.0.1:5432/test?sslmode=disable
#   LATCH_TEST_CHROMIUM      default /usr/bin/chromium
#   LATCH_TEST_AXE           axe.min.js of axe-core (default: npm-installed into LATCH_TEST_AXE_DIR,
#                            default ~/.cache/latch/axe-core-<version>)
#   LATCH_TEST_RACE          auto (default: -race if it builds, else warn and go on without),
#                            1 (fail if -race cannot build), 0 (never use -race)
#   LATCH_TEST_NO_INSTALL=1  never call apt-get
#
# Exported to the command:
#   LATCH_TEST_REDIS_URL, LATCH_TEST_DATABASE_URL, LATCH_TEST_CHROMIUM, LATCH_TEST_AXE,
#   REDIS_SERVER_BIN, REDIS_SENTINEL_BIN, REDIS_CLI_BIN (empty when not installed)
set -euo pipefail

log() { printf '[test-env] %s\n' "$*"; }
warn() { printf '[test-env] WARNING: %s\n' "$*" >&2; }
die() {
	printf '[test-env] ERROR: %s\n' "$*" >&2
	exit 1
}

MODE=${1:-test}
[[ $# -gt 0 ]] && shift

DEFAULT_REDIS_URL='redis://127.0.0.1:6379/0'
DEFAULT_DATABASE_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
REDIS_URL=${LATCH_TEST_REDIS_URL:-$DEFAULT_REDIS_URL}
DATABASE_URL=${LATCH_TEST_DATABASE_URL:-$DEFAULT_DATABASE_URL}
CHROMIUM=${LATCH_TEST_CHROMIUM:-/usr/bin/chromium}
PKGS=${PKGS:-${GO_TEST_PKGS:-./...}}
TESTFLAGS=${TESTFLAGS:-}
RACE_MODE=${LATCH_TEST_RACE:-auto}

# Go lives in /usr/local/go on our machines; a non-login shell may not have it on PATH.
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || die "go not found (expected /usr/local/go/bin/go)"

# Everything throwaway lives under WORKDIR; cleanup() removes it.
WORKDIR=''
REDIS_PIDFILE=''
PG_BINDIR=''
PG_DATA=''

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	local rc=$?
	set +e
	if [[ -n $PG_DATA && -f $PG_DATA/postmaster.pid ]]; then
		log "stopping throwaway PostgreSQL (data dir $PG_DATA)"
		as_pg "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 ||
			as_pg "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m immediate -w -t 30 stop >/dev/null 2>&1
	fi
	if [[ -n $REDIS_PIDFILE && -f $REDIS_PIDFILE ]]; then
		stop_redis_pidfile "$REDIS_PIDFILE"
	fi
	if [[ -n $WORKDIR && -d $WORKDIR ]]; then
		log "removing $WORKDIR"
		rm -rf "$WORKDIR"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

make_workdir() {
	if [[ -z $WORKDIR ]]; then
		# Always under /tmp: the postgres OS user must be able to reach it ($TMPDIR may not be).
		WORKDIR=$(mktemp -d /tmp/latch-test-env.XXXXXX)
		chmod 0755 "$WORKDIR"
		log "throwaway servers live in $WORKDIR"
	fi
}

# ---------------------------------------------------------------------------
# 1. Debian packages
# ---------------------------------------------------------------------------
APT_UPDATED=0
apt_install() {
	if [[ ${LATCH_TEST_NO_INSTALL:-0} == 1 ]]; then
		warn "LATCH_TEST_NO_INSTALL=1: not installing $*"
		return 1
	fi
	if [[ $(id -u) -ne 0 ]]; then
		warn "not root: cannot apt-get install $* (install them yourself)"
		return 1
	fi
	command -v apt-get >/dev/null 2>&1 || {
		warn "no apt-get: cannot install $*"
		return 1
	}
	export DEBIAN_FRONTEND=noninteractive
	local apt_opts=(-o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=300)
	if [[ $APT_UPDATED == 0 ]]; then
		log "apt-get update"
		apt-get "${apt_opts[@]}" update -qq || warn "apt-get update failed"
		APT_UPDATED=1
	fi
	log "apt-get install -y $*"
	if apt-get "${apt_opts[@]}" install -y -qq "$@"; then
		return 0
	fi
	# One bad package must not block the others: retry them one by one.
	warn "installing them together failed; trying one at a time"
	local p ok=0
	for p in "$@"; do
		apt-get "${apt_opts[@]}" install -y -qq "$p" || {
			warn "could not install $p"
			ok=1
		}
	done
	return "$ok"
}

find_pg_bindir() {
	local d
	# shellcheck disable=SC2012 # paths are /usr/lib/postgresql/<version>/bin
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]]; then
			echo "$d"
			return 0
		fi
	done
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		dirname "$(readlink -f "$(command -v initdb)")"
		return 0
	fi
	return 1
}

c_compiler_present() {
	local cc
	cc=$(go env CC 2>/dev/null)
	command -v "${cc%% *}" >/dev/null 2>&1
}

log "step 1: checking installed tools"
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
command -v redis-sentinel >/dev/null 2>&1 || missing+=(redis-sentinel)
find_pg_bindir >/dev/null || missing+=(postgresql)
{ command -v pg_isready && command -v psql; } >/dev/null 2>&1 || missing+=(postgresql-client)
[[ -x $CHROMIUM || -x /usr/bin/chromium ]] || missing+=(chromium)
command -v hydra >/dev/null 2>&1 || missing+=(hydra)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# The balancer of the multi-instance and rolling-restart tests (cmd/latch/fleet_e2e_test.go).
{ command -v haproxy || [[ -x /usr/sbin/haproxy ]]; } >/dev/null 2>&1 || missing+=(haproxy)
[[ -d /usr/share/fonts/truetype/nanum ]] || missing+=(fonts-nanum)
if [[ $RACE_MODE != 0 ]] && ! c_compiler_present; then
	missing+=(gcc libc6-dev)
fi
if [[ ${#missing[@]} -gt 0 ]]; then
	log "missing packages: ${missing[*]}"
	apt_install "${missing[@]}" || warn "some packages could not be installed; going on"
else
	log "all tools present"
fi
# The Debian postgresql package may have started its own cluster; that is fine, we never use
# it unless LATCH_TEST_DATABASE_URL answers.

if [[ ! -x $CHROMIUM && $CHROMIUM != /usr/bin/chromium && -x /usr/bin/chromium ]]; then
	warn "LATCH_TEST_CHROMIUM=$CHROMIUM is not executable; using /usr/bin/chromium"
	CHROMIUM=/usr/bin/chromium
fi
[[ -x $CHROMIUM ]] || warn "no Chromium at $CHROMIUM: browser tests will skip or fail"

# axe-core, the accessibility engine the browser tests inject into every page
# (cmd/latch/browser_a11y_test.go): one exact version, installed with npm into a
# cache directory outside the repository (nothing is committed).
AXE_VERSION=4.11.0
AXE_DIR=${LATCH_TEST_AXE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/latch/axe-core-$AXE_VERSION}
if [[ -z ${LATCH_TEST_AXE:-} ]]; then
	LATCH_TEST_AXE=$AXE_DIR/node_modules/axe-core/axe.min.js
	if [[ ! -f $LATCH_TEST_AXE ]]; then
		if ! command -v npm >/dev/null 2>&1 && [[ ${LATCH_TEST_NO_INSTALL:-0} != 1 ]]; then
			apt_install npm || true
		fi
		if command -v npm >/dev/null 2>&1; then
			log "npm install --prefix $AXE_DIR axe-core@$AXE_VERSION"
			npm install --prefix "$AXE_DIR" --no-audit --no-fund --loglevel=error "axe-core@$AXE_VERSION" ||
				warn "could not install axe-core"
		else
			warn "no npm: cannot install axe-core"
		fi
	fi
	[[ -f $LATCH_TEST_AXE ]] || {
		warn "no axe-core at $LATCH_TEST_AXE: the accessibility test will skip or fail"
		LATCH_TEST_AXE=''
	}
fi
export LATCH_TEST_AXE

# ---------------------------------------------------------------------------
# 2. Race detector
# ---------------------------------------------------------------------------
RACE_FLAG=()
if [[ $MODE == test && $RACE_MODE != 0 ]]; then
	log "step 2: checking that 'go build -race' works here (needs cgo and a C compiler)"
	probe=$(mktemp -d "${TMPDIR:-/tmp}/latch-race-probe.XXXXXX")
	printf 'module raceprobe\n\ngo 1.21\n' >"$probe/go.mod"
	printf 'package main\n\nfunc main() {}\n' >"$probe/main.go"
	if (cd "$probe" && CGO_ENABLED=1 GOFLAGS=-mod=mod go build -race -o /dev/null .) >"$probe/out" 2>&1; then
		RACE_FLAG=(-race)
		log "race detector works: using -race"
	else
		sed 's/^/    /' "$probe/out" >&2
		if [[ $RACE_MODE == 1 ]]; then
			rm -rf "$probe"
			die "LATCH_TEST_RACE=1 but -race cannot build here"
		fi
		warn "-race cannot build here (no cgo/C compiler): running tests WITHOUT the race detector"
	fi
	rm -rf "$probe"
else
	log "step 2: race detector not used (mode=$MODE, LATCH_TEST_RACE=$RACE_MODE)"
fi
# -race needs cgo; make sure a CGO_ENABLED=0 from the caller does not break it.
[[ ${#RACE_FLAG[@]} -gt 0 ]] && export CGO_ENABLED=1

# ---------------------------------------------------------------------------
# Helpers for throwaway servers
# ---------------------------------------------------------------------------
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A loopback port nobody listens on, below the kernel's ephemeral range (32768+).
free_port() {
	local p _
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000))
		if ! port_in_use "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

as_pg() {
	# root cannot run postgres: run the PostgreSQL server tools as the postgres OS user.
	if [[ $(id -u) -eq 0 ]]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

redis_ping() {
	[[ $(timeout 5 redis-cli -u "$1" ping 2>/dev/null) == PONG ]]
}

stop_redis_pidfile() {
	local pid _
	pid=$(cat "$1" 2>/dev/null) || return 0
	[[ -n $pid ]] || return 0
	log "stopping throwaway redis-server (pid $pid)"
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

pg_select1() {
	PGCONNECT_TIMEOUT=5 timeout 15 psql "$1" -X -A -t -q -c 'SELECT 1' 2>&1
}

# ---------------------------------------------------------------------------
# 3. Redis
# ---------------------------------------------------------------------------
log "step 3: Redis - probing $REDIS_URL"
command -v redis-cli >/dev/null 2>&1 || die "redis-cli not installed (Debian package redis-tools)"
if redis_ping "$REDIS_URL"; then
	log "Redis answers at $REDIS_URL: using it"
else
	log "Redis does not answer at $REDIS_URL: starting a throwaway redis-server"
	command -v redis-server >/dev/null 2>&1 || die "redis-server not installed (Debian package redis-server)"
	make_workdir
	mkdir -p "$WORKDIR/redis"
	REDIS_PIDFILE="$WORKDIR/redis/redis.pid"
	started=0
	for attempt in 1 2 3 4 5; do
		port=$(free_port) || die "no free loopback port found"
		log "redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no --daemonize yes (attempt $attempt)"
		rm -f "$REDIS_PIDFILE"
		redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes \
			--dir "$WORKDIR/redis" --pidfile "$REDIS_PIDFILE" --logfile "$WORKDIR/redis/redis.log" ||
			continue
		for _ in $(seq 1 50); do
			if redis_ping "redis://127.0.0.1:$port/0"; then
				started=1
				break
			fi
			sleep 0.2
		done
		[[ $started == 1 ]] && break
		warn "redis-server on port $port did not answer; its log:"
		tail -n 20 "$WORKDIR/redis/redis.log" >&2 || true
		stop_redis_pidfile "$REDIS_PIDFILE"
	done
	[[ $started == 1 ]] || die "could not start a throwaway redis-server"
	REDIS_URL="redis://127.0.0.1:$port/0"
	log "throwaway Redis ready at $REDIS_URL"
fi

# ---------------------------------------------------------------------------
# 4. PostgreSQL
# ---------------------------------------------------------------------------
log "step 4: PostgreSQL - probing $DATABASE_URL"
command -v psql >/dev/null 2>&1 || die "psql not installed (Debian package postgresql-client)"
pg_ready_out=$(timeout 15 pg_isready -d "$DATABASE_URL" -t 5 2>&1) || true
if pg_out=$(pg_select1 "$DATABASE_URL") && [[ $pg_out == 1 ]]; then
	log "PostgreSQL answers at $DATABASE_URL ($pg_ready_out): using it"
else
	log "PostgreSQL not usable at $DATABASE_URL (${pg_ready_out:-no answer}; ${pg_out//$'\n'/ })"
	log "starting a throwaway PostgreSQL"
	PG_BINDIR=$(find_pg_bindir) || die "PostgreSQL server binaries not found (Debian package postgresql)"
	if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
		log "creating the postgres OS user"
		useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
	fi
	make_workdir
	mkdir -p "$WORKDIR/pg/sock"
	[[ $(id -u) -eq 0 ]] && chown -R postgres: "$WORKDIR/pg"
	chmod 0700 "$WORKDIR/pg"
	log "initdb -D $WORKDIR/pg/data (user postgres, trust auth, UTF8) with $PG_BINDIR"
	as_pg "$PG_BINDIR/initdb" -D "$WORKDIR/pg/data" -U postgres --auth=trust \
		--encoding=UTF8 --no-locale --no-sync >"$WORKDIR/pg/initdb.log" 2>&1 ||
		{
			cat "$WORKDIR/pg/initdb.log" >&2
			die "initdb failed"
		}
	PG_DATA="$WORKDIR/pg/data"
	started=0
	for attempt in 1 2 3 4 5; do
		port=$(free_port) || die "no free loopback port found"
		log "pg_ctl start: listening on 127.0.0.1:$port (attempt $attempt)"
		if as_pg "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -l "$WORKDIR/pg/postgres.log" -w -t 60 \
			-o "-h 127.0.0.1 -p $port -k $WORKDIR/pg/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
			start >/dev/null; then
			started=1
			break
		fi
		warn "PostgreSQL did not start on port $port; its log:"
		tail -n 20 "$WORKDIR/pg/postgres.log" >&2 || true
		as_pg "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
	done
	[[ $started == 1 ]] || die "could not start a throwaway PostgreSQL"
	log "creating database test"
	PGCONNECT_TIMEOUT=10 psql "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable" \
		-X -q -v ON_ERROR_STOP=1 -c 'CREATE DATABASE test' || die "CREATE DATABASE test failed"
	DATABASE_URL="postgres://postgres@127.0.0.1:$port/test?sslmode=disable"
	if ! pg_out=$(pg_select1 "$DATABASE_URL") || [[ $pg_out != 1 ]]; then
		die "throwaway PostgreSQL does not answer: $pg_out"
	fi
	log "throwaway PostgreSQL ready at $DATABASE_URL"
fi

# ---------------------------------------------------------------------------
# 5. Environment and command
# ---------------------------------------------------------------------------
export LATCH_TEST_REDIS_URL="$REDIS_URL"
export LATCH_TEST_DATABASE_URL="$DATABASE_URL"
export LATCH_TEST_CHROMIUM="$CHROMIUM"
REDIS_SERVER_BIN=$(command -v redis-server || true)
REDIS_SENTINEL_BIN=$(command -v redis-sentinel || true)
REDIS_CLI_BIN=$(command -v redis-cli || true)
export REDIS_SERVER_BIN REDIS_SENTINEL_BIN REDIS_CLI_BIN

log "step 5: environment"
for v in LATCH_TEST_REDIS_URL LATCH_TEST_DATABASE_URL LATCH_TEST_CHROMIUM LATCH_TEST_AXE \
	REDIS_SERVER_BIN REDIS_SENTINEL_BIN REDIS_CLI_BIN; do
	log "  $v=${!v}"
done

read -r -a pkgs <<<"$PKGS"
read -r -a testflags <<<"$TESTFLAGS"
case $MODE in
test)
	cmd=(go test "${RACE_FLAG[@]}" -count=1 -timeout 20m "${testflags[@]}" "${pkgs[@]}")
	;;
bench)
	cmd=(go test -run '^$' -bench . -benchmem -timeout 20m "${testflags[@]}" "${pkgs[@]}")
	;;
exec)
	[[ $# -gt 0 ]] || die "usage: $0 exec CMD [ARG...]"
	cmd=("$@")
	;;
*)
	die "unknown mode '$MODE' (use test, bench or exec)"
	;;
esac

log "running: ${cmd[*]}"
set +e
"${cmd[@]}"
rc=$?
set -e
if [[ $rc -eq 0 ]]; then
	log "step 6: command succeeded"
else
	log "step 6: command FAILED with exit code $rc"
fi
exit "$rc"
