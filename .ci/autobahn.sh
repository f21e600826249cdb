#!/usr/bin/env bash
# Runs Autobahn|Testsuite sections 1-10 (strict: every case OK or INFORMATIONAL) against
# a server command and a client command, using ../shared/autobahn.
#
#   .ci/autobahn.sh NAME SERVER_BIN CLIENT_BIN
#
# SERVER_BIN is started with one argument, the address to listen on; CLIENT_BIN gets
# the fuzzing server's ws:// URL and an agent name.
set -euo pipefail
name="$1" server_bin="$2" client_bin="$3"
autobahn="$(cd "$(dirname "$0")/../../shared/autobahn" && pwd)"
bash "$autobahn/setup.sh" >/dev/null

# Free loopback ports, chosen by the kernel.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

export AUTOBAHN_STRICT=1 AUTOBAHN_EXCLUDE=compression AUTOBAHN_QUIET=1 AUTOBAHN_TIMEOUT=600

port="$(free_port)"
"$server_bin" "127.0.0.1:$port" >/dev/null 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
echo "--- $name: server"
AUTOBAHN_AGENT="$name-server" bash "$autobahn/run.sh" server "127.0.0.1:$port" | tail -n 12
kill "$server_pid" 2>/dev/null || true

port="$(free_port)"
echo "--- $name: client"
bash "$autobahn/run.sh" client "$port" -- "$client_bin" "ws://127.0.0.1:$port" "$name-client" | tail -n 12
