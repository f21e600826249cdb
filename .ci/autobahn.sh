#!/usr/bin/env bash
# Runs Autobahn|Testsuite sections 1-10 (strict: every case OK or INFORMATIONAL) against
# a server command and a client command, using ../shared/autobahn.
#
#   .ci/autobahn.sh NAME SERVER_BIN CLIENT_BIN [SUITE]
#
# SUITE is `core` (sections 1-10, the default), `compression` (a quick subset of the
# permessage-deflate sections 12 and 13: two cases of every group, the window-size
# and no-context-takeover groups 13.3-13.7 included) or `compression-full` (all of 12
# and 13, about 20 minutes a role). The compression suites need every case OK:
# UNIMPLEMENTED (no compression negotiated) fails.
#
# SERVER_BIN is started with one argument, the address to listen on; CLIENT_BIN gets
# the fuzzing server's ws:// URL and an agent name. Each role's results, case by case,
# are compared with autobahn/expected/NAME-ROLE.json (UPDATE_EXPECTED=1 rewrites it),
# so that a change in any case shows as a diff.
set -euo pipefail
name="$1" server_bin="$2" client_bin="$3" suite="${4:-core}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
autobahn="$(cd "$repo/../shared/autobahn" && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
bash "$autobahn/setup.sh" >/dev/null

# Free loopback ports, chosen by the kernel.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Compares one role's results with the expected ones kept in the repo.
compare() {
    local role="$1" expected="$repo/autobahn/expected/$name-$1$suffix.json"
    python3 "$repo/autobahn/results.py" "$scratch/$role/reports/index.json" >"$scratch/$role.json"
    if [ "${UPDATE_EXPECTED:-0}" = 1 ]; then
        mkdir -p "$(dirname "$expected")"
        cp "$scratch/$role.json" "$expected"
    elif ! diff -u "$expected" "$scratch/$role.json"; then
        echo "autobahn: $name $role results differ from $expected" >&2
        exit 1
    fi
}

export AUTOBAHN_STRICT=1 AUTOBAHN_QUIET=1 AUTOBAHN_TIMEOUT=600
case "$suite" in
    core)
        cases="*" suffix=""
        export AUTOBAHN_EXCLUDE=compression
        ;;
    compression)
        # 16-byte messages, and 8 KiB ones in 256-byte fragments, of every group of 12
        # (five kinds of data) and 13 (the seven parameter sets: no context takeover,
        # window sizes 9 and 15, several offers).
        cases="" suffix="-compression"
        for group in 12.1 12.2 12.3 12.4 12.5 13.1 13.2 13.3 13.4 13.5 13.6 13.7; do
            cases="$cases${cases:+,}$group.1,$group.11"
        done
        export AUTOBAHN_REQUIRE_COMPRESSION=1
        ;;
    compression-full)
        cases="12.*,13.*" suffix="-compression-full"
        export AUTOBAHN_REQUIRE_COMPRESSION=1 AUTOBAHN_TIMEOUT=3600
        ;;
    *)
        echo "unknown suite $suite (core, compression, compression-full)" >&2
        exit 2
        ;;
esac

port="$(free_port)"
"$server_bin" "127.0.0.1:$port" >/dev/null 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; rm -rf "$scratch"' EXIT
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
echo "--- $name: server ($suite)"
AUTOBAHN_OUTDIR="$scratch/server" AUTOBAHN_AGENT="$name-server" \
    bash "$autobahn/run.sh" server "127.0.0.1:$port" "$cases" | tail -n 12
kill "$server_pid" 2>/dev/null || true
compare server

port="$(free_port)"
echo "--- $name: client ($suite)"
AUTOBAHN_OUTDIR="$scratch/client" \
    bash "$autobahn/run.sh" client "$port" "$cases" -- "$client_bin" "ws://127.0.0.1:$port" "$name-client" | tail -n 12
compare client
