#!/usr/bin/env bash
# scripts/hydra.sh - show, with Debian's hydra, that Latch's login throttling stops an online
# password-guessing attack while the account's owner keeps signing in from their usual IP.
#
# Usage:
#   scripts/hydra.sh                    build bin/latch-hydra from this checkout and run
#   LATCH_BIN=/path/to/latch scripts/hydra.sh   use that latch executable instead of building
#
# What it does (each step prints a "[hydra]" line; everything lives in a temp dir and a Redis
# key prefix of its own, both removed at the end):
#   1. starts a throwaway Latch: temp SQLite file, Redis at $LATCH_TEST_REDIS_URL (default
#      redis://127.0.0.1:6379/0) with a unique key prefix, LATCH_COOKIE_SECURE=false, a free
#      loopback port, LATCH_TRUSTED_PROXIES=127.0.0.1/32 so that each client names its IP in
#      X-Forwarded-For, and the default throttle quotas (see README "Throttling");
#   2. creates one account and writes a 500-word list with the account's password at line 400;
#   3. signs the owner in once from their usual IP, 203.0.113.5 (that makes it a known IP);
#   4. runs two hydra attacks at once (-t 4 each, at most 120 s), from 198.51.100.7 and
#      198.51.100.8, each with the whole list, while the owner keeps signing in from 203.0.113.5;
#   5. reports what Latch answered (from its request log), whether hydra found the password,
#      and whether the owner's logins worked; also tries the right password from a new IP;
#   6. control: the same hydra run against a second Latch with throttling off must find the
#      password, which shows the attack itself works (set HYDRA_CONTROL=0 to skip it).
#
# Why a proxy sits between hydra and Latch: hydra's http-post-form module gives up on any 401
# answer ("the target is using HTTP auth, not a web form"), and Latch answers a failed form
# login with 401. The proxy (a few lines of Go's httputil.ReverseProxy, built from this file)
# turns 401 into 200 and changes nothing else, as an attacker would; it also plays the trusted
# reverse proxy (it appends 127.0.0.1 to X-Forwarded-For, which Latch skips as trusted).
#
# hydra counts an attempt as a success only when Latch answers "303 See Other" (the redirect
# to /profile after a login): a 429 "Too many attempts" page is not a success. F=<failure
# text> would be wrong: any page without that text, the 429 page included, would count as a
# success. hydra 9.4 wants the optional H= header before the condition, and its condition
# cannot contain a colon (S=Location\: /profile is cut at the colon), hence "S=303 See Other".
#
# Inputs (all optional): LATCH_BIN, HYDRA_PROXY_BIN (an executable that does what the proxy
# below does: argument = target URL, prints "listening ADDR"; the Go test passes one so that it
# need not compile anything), LATCH_TEST_REDIS_URL, HYDRA_CONTROL (1), HYDRA_KEEP (0; 1 keeps the
# temp dir with the logs), HYDRA_TIMEOUT
# (120 s per hydra run), LATCH_ARGON2_MEMORY/_TIME/_PARALLELISM (default: Latch's defaults;
# the Go test lowers them because it runs Latch under the race detector).
#
# Exit status: 0 when no throttled hydra run found the password, every login of the owner from
# the known IP succeeded and (unless skipped) the control run found it; 1 otherwise; 2 when a
# prerequisite (hydra, curl, go, Redis) is missing.
set -euo pipefail

log() { printf '[hydra] %s\n' "$*"; }
die() {
	printf '[hydra] ERROR: %s\n' "$*" >&2
	exit "${2:-1}"
}

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
command -v hydra >/dev/null 2>&1 || die "hydra not installed (Debian: apt-get install -y hydra)" 2
command -v curl >/dev/null 2>&1 || die "curl not installed" 2
if [[ -z ${LATCH_BIN:-} || -z ${HYDRA_PROXY_BIN:-} ]]; then
	command -v go >/dev/null 2>&1 || die "go not found (needed to build latch and the 401 proxy)" 2
fi

REDIS_URL=${LATCH_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
HYDRA_TIMEOUT=${HYDRA_TIMEOUT:-120}
HYDRA_CONTROL=${HYDRA_CONTROL:-1}
EMAIL='owner@example.com'
PASSWORD='staple-horse-battery-0400'
OWNER_IP='203.0.113.5'
ATTACKERS=(198.51.100.7 198.51.100.8)
NEW_DEVICE_IP='192.0.2.44'
PREFIX="latchhydra:$$-$RANDOM:"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/latch-hydra.XXXXXX")
PIDS=()

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	local rc=$? pid
	set +e
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	if command -v redis-cli >/dev/null 2>&1; then
		redis-cli -u "$REDIS_URL" --scan --pattern "${PREFIX}*" 2>/dev/null |
			xargs -r -n 100 redis-cli -u "$REDIS_URL" del >/dev/null 2>&1
		redis-cli -u "$REDIS_URL" --scan --pattern "${PREFIX%:}-control:*" 2>/dev/null |
			xargs -r -n 100 redis-cli -u "$REDIS_URL" del >/dev/null 2>&1
	fi
	if [[ ${HYDRA_KEEP:-0} == 1 ]]; then
		log "kept $WORK (HYDRA_KEEP=1)"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# ---------------------------------------------------------------------------
# Build: latch (unless LATCH_BIN is given) and the 401→200 proxy
# ---------------------------------------------------------------------------
if [[ -n ${LATCH_BIN:-} ]]; then
	[[ -x $LATCH_BIN ]] || die "LATCH_BIN=$LATCH_BIN is not executable" 2
	LATCH=$LATCH_BIN
else
	log "building latch (go build -o bin/latch-hydra ./cmd/latch)"
	go build -o bin/latch-hydra ./cmd/latch
	LATCH=$PWD/bin/latch-hydra
fi

PROXY=${HYDRA_PROXY_BIN:-}
if [[ -n $PROXY ]]; then
	[[ -x $PROXY ]] || die "HYDRA_PROXY_BIN=$PROXY is not executable" 2
else
	mkdir -p "$WORK/proxy"
	cat >"$WORK/proxy/go.mod" <<'EOF'
module hydraproxy

go 1.22
EOF
	cat >"$WORK/proxy/main.go" <<'EOF'
// Command hydraproxy forwards every request to the URL in os.Args[1] and
// answers exactly what it answers, except that 401 becomes 200: hydra's
// http-post-form module stops at a 401 ("the target is using HTTP auth").
// It listens on a free loopback port and prints "listening ADDR".
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
)

func main() {
	target, err := url.Parse(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(r *http.Response) error {
		if r.StatusCode == http.StatusUnauthorized {
			r.StatusCode, r.Status = http.StatusOK, "200 OK"
		}
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listening", ln.Addr())
	log.Fatal(http.Serve(ln, rp))
}
EOF
	log "building the 401→200 proxy for hydra"
	(cd "$WORK/proxy" && GOWORK=off GOFLAGS='' go build -o "$WORK/hydraproxy" .)
	PROXY=$WORK/hydraproxy
fi

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# start_latch NAME PREFIX [VAR=VALUE...]: migrate, create the account, serve; sets LATCH_URL.
start_latch() {
	local name=$1 prefix=$2
	shift 2
	local dir="$WORK/$name"
	mkdir -p "$dir"
	local -a envs=(
		"LATCH_ADDR=127.0.0.1:0" "LATCH_DATABASE_URL=sqlite:$dir/latch.db"
		"LATCH_REDIS_URL=$REDIS_URL" "LATCH_REDIS_KEY_PREFIX=$prefix"
		"LATCH_COOKIE_SECURE=false" "LATCH_TRUSTED_PROXIES=127.0.0.1/32" "$@"
	)
	env "${envs[@]}" "$LATCH" migrate >"$dir/migrate.log" 2>&1 || {
		cat "$dir/migrate.log" >&2
		die "latch migrate failed"
	}
	printf '%s\n' "$PASSWORD" | env "${envs[@]}" "$LATCH" user create --email "$EMAIL" --name Owner --password-stdin \
		>"$dir/user.log" 2>&1 || {
		cat "$dir/user.log" >&2
		die "latch user create failed"
	}
	env "${envs[@]}" "$LATCH" serve >"$dir/serve.log" 2>&1 &
	PIDS+=($!)
	local addr='' _
	for _ in $(seq 1 600); do # a hang guard (60 s): a -race binary on a busy machine starts slowly
		addr=$(sed -n 's/.*"msg":"listening","addr":"\([^"]*\)".*/\1/p' "$dir/serve.log" | head -n 1)
		[[ -n $addr ]] && break
		sleep 0.1
	done
	[[ -n $addr ]] || {
		cat "$dir/serve.log" >&2
		die "latch ($name) did not start"
	}
	LATCH_URL="http://$addr"
	for _ in $(seq 1 600); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' "$LATCH_URL/readyz") == 200 ]] && return 0
		sleep 0.1
	done
	cat "$dir/serve.log" >&2
	die "latch ($name) is not healthy (is Redis at $REDIS_URL up?)" 2
}

# start_proxy TARGET_URL: sets PROXY_PORT.
start_proxy() {
	local out="$WORK/proxy-$RANDOM.out" _
	"$PROXY" "$1" >"$out" 2>&1 &
	PIDS+=($!)
	PROXY_PORT=''
	for _ in $(seq 1 600); do # a hang guard (60 s), like start_latch's
		PROXY_PORT=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$out")
		[[ -n $PROXY_PORT ]] && return 0
		sleep 0.1
	done
	cat "$out" >&2
	die "the proxy did not start"
}

# login URL IP PASSWORD: POST /login as if from IP; prints the HTTP status.
login() {
	curl -s -o /dev/null -w '%{http_code}' -H "X-Forwarded-For: $2" \
		--data-urlencode "email=$EMAIL" --data-urlencode "password=$3" "$1/login"
}

# run_hydra NAME PORT IP: one hydra run in the background; sets HYDRA_PID.
run_hydra() {
	local name=$1 port=$2 ip=$3
	(
		cd "$WORK"
		hrc=0
		timeout "$HYDRA_TIMEOUT" hydra -I -f -t 4 -w 10 -l "$EMAIL" -P "$WORK/words.txt" -o "$WORK/$name.found" \
			-s "$port" 127.0.0.1 http-post-form \
			"/login:email=^USER^&password=^PASS^:H=X-Forwarded-For\: $ip:S=303 See Other" \
			>"$WORK/$name.out" 2>&1 || hrc=$?
		echo "$hrc" >"$WORK/$name.rc"
	) &
	HYDRA_PID=$!
}

# found NAME: the password hydra run NAME found, or "".
found() {
	sed -n 's/.*password: \(.*\)$/\1/p' "$WORK/$1.found" 2>/dev/null | head -n 1
}

# count LOG IP STATUS: POST /login requests from IP that Latch answered with STATUS.
count() {
	grep -F '"msg":"request","method":"POST","route":"/login","status":'"$3"',' "$1" |
		grep -cF '"client_ip":"'"$2"'"' || true
}

# ---------------------------------------------------------------------------
# The word list: 500 candidates, the right one at line 400
# ---------------------------------------------------------------------------
for i in $(seq 1 500); do
	if [[ $i == 400 ]]; then
		echo "$PASSWORD"
	else
		printf 'guess-%03d-horse-battery\n' "$i"
	fi
done >"$WORK/words.txt"
[[ $(sed -n 400p "$WORK/words.txt") == "$PASSWORD" && $(wc -l <"$WORK/words.txt") == 500 ]] || die "word list"

rc=0

# ---------------------------------------------------------------------------
# Control: throttling off, the same attack finds the password
# ---------------------------------------------------------------------------
if [[ $HYDRA_CONTROL == 1 ]]; then
	log "control: Latch with every LATCH_THROTTLE_* quota off"
	start_latch control "${PREFIX%:}-control:" LATCH_THROTTLE_ACCOUNT=off LATCH_THROTTLE_ACCOUNT_IP=off \
		LATCH_THROTTLE_IP=off LATCH_THROTTLE_REGISTER=off
	start_proxy "$LATCH_URL"
	start=$SECONDS
	run_hydra control "$PROXY_PORT" "${ATTACKERS[0]}"
	wait "$HYDRA_PID" || true
	took=$((SECONDS - start))
	got=$(found control)
	checked=$(count "$WORK/control/serve.log" "${ATTACKERS[0]}" 401)
	if [[ $got == "$PASSWORD" ]]; then
		log "control: hydra FOUND the password (line 400) in ${took}s; Latch had checked $checked wrong passwords from it: the attack works"
	else
		log "control: hydra did not find the password (found '${got}', exit $(cat "$WORK/control.rc")); its output:"
		sed 's/^/    /' "$WORK/control.out"
		log "control FAILED: without throttling hydra should find it, so the result below would mean nothing"
		rc=1
	fi
fi

# ---------------------------------------------------------------------------
# The attack, with the default quotas
# ---------------------------------------------------------------------------
log "starting Latch with the default throttle quotas (Redis $REDIS_URL, prefix $PREFIX)"
start_latch throttled "$PREFIX"
SERVE_LOG="$WORK/throttled/serve.log"
grep -F '"msg":"login throttling"' "$SERVE_LOG" | sed 's/^/    /' || true
start_proxy "$LATCH_URL"

status=$(login "$LATCH_URL" "$OWNER_IP" "$PASSWORD")
[[ $status == 303 ]] || die "the owner's first login from $OWNER_IP answered $status, want 303"
log "the owner signed in from $OWNER_IP (now a known IP for the account)"

log "hydra attacks from ${ATTACKERS[*]}: 500 words each, the password at line 400, -t 4, at most ${HYDRA_TIMEOUT}s"
start=$SECONDS
hydra_pids=()
for i in "${!ATTACKERS[@]}"; do
	run_hydra "attack$i" "$PROXY_PORT" "${ATTACKERS[$i]}"
	hydra_pids+=("$HYDRA_PID")
done

owner_ok=0 owner_bad=0
owner_codes=()
running() {
	local p
	for p in "${hydra_pids[@]}"; do
		kill -0 "$p" 2>/dev/null && return 0
	done
	return 1
}
while running; do
	status=$(login "$LATCH_URL" "$OWNER_IP" "$PASSWORD")
	if [[ $status == 303 ]]; then
		owner_ok=$((owner_ok + 1))
	else
		owner_bad=$((owner_bad + 1))
		owner_codes+=("$status")
	fi
	sleep 0.2
done
for p in "${hydra_pids[@]}"; do
	wait "$p" || true
done
took=$((SECONDS - start))

# After the attack the account-wide quota is used up: the known IP still gets in, a new one not.
after=$(login "$LATCH_URL" "$OWNER_IP" "$PASSWORD")
if [[ $after == 303 ]]; then
	owner_ok=$((owner_ok + 1))
else
	owner_bad=$((owner_bad + 1))
	owner_codes+=("$after")
fi
newdev=$(curl -s -o /dev/null -D "$WORK/newdev.h" -w '%{http_code}' -H "X-Forwarded-For: $NEW_DEVICE_IP" \
	--data-urlencode "email=$EMAIL" --data-urlencode "password=$PASSWORD" "$LATCH_URL/login")
newdev_wait=$(sed -n 's/^Retry-After: *\([0-9]*\).*/\1/ip' "$WORK/newdev.h")

log "results after ${took}s:"
for i in "${!ATTACKERS[@]}"; do
	ip=${ATTACKERS[$i]}
	checked=$(count "$SERVE_LOG" "$ip" 401)
	limited=$(count "$SERVE_LOG" "$ip" 429)
	other=$(($(grep -F '"msg":"request","method":"POST","route":"/login"' "$SERVE_LOG" | grep -cF '"client_ip":"'"$ip"'"' || true) - checked - limited))
	got=$(found "attack$i")
	hrc=$(cat "$WORK/attack$i.rc" 2>/dev/null || echo '?')
	summary=$(grep -E 'valid password' "$WORK/attack$i.out" | tail -n 1 || true)
	log "  hydra from $ip: $((checked + limited + other)) attempts reached Latch: $checked checked and wrong (401), $limited throttled (429), $other other"
	log "    hydra exit $hrc${summary:+; \"$summary\"}"
	if [[ -n $got ]]; then
		log "    FOUND the password: $got"
		rc=1
	elif [[ $hrc != 0 && $hrc != 124 ]]; then
		log "    hydra failed (exit $hrc); its output:"
		sed 's/^/      /' "$WORK/attack$i.out"
		rc=1
	elif ((checked + limited + other < 400)); then
		log "    hydra never reached line 400 (the password), so this run shows nothing"
		rc=1
	else
		log "    not found: the attempt with the right password (line 400) was refused with 429 like the rest"
	fi
done
log "  owner from the known IP $OWNER_IP: $owner_ok of $((owner_ok + owner_bad)) logins succeeded (during the attack and once after)${owner_codes[*]:+; other answers: ${owner_codes[*]}}"
((owner_bad == 0)) || rc=1
log "  the right password from a new IP $NEW_DEVICE_IP right after the attack: $newdev${newdev_wait:+ (Retry-After ${newdev_wait}s)}: the account-wide quota is used up, and only known IPs pass it"
log "  audit: $(grep -cF '"msg":"login throttled"' "$SERVE_LOG" || true) throttled attempts written to the audit log (at most one per account and IP a minute)"

if ((rc == 0)); then
	log "PASS: hydra did not find the password, and the owner was never blocked"
else
	log "FAIL"
fi
exit "$rc"
