#!/usr/bin/env bash
# make bench: starts a daemon on a temporary data directory, deploys the benchmark function
# (examples/echo, a C function on liblambdalite-runtime) and runs each benchmark, which prints
# its figures beside a baseline measured in the same run. Usage: bench/run.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
work=$(mktemp -d)
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export LAMBDALITE_ENDPOINT="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
"$build/lambdalite" serve --listen "127.0.0.1:$port" --data-dir "$work/data" 2>"$work/daemon.log" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$work/daemon.log" 2>/dev/null && break; sleep 0.05; done
mkdir -p "$work/echo" && cp "$build/examples/echo/bootstrap" "$work/echo/"
"$build/lambdalite" create-function echo --code "$work/echo" >/dev/null
"$build/bench/invoke" --endpoint "$LAMBDALITE_ENDPOINT" --function echo --seconds "${BENCH_SECONDS:-3}"
echo

# Cold starts: a second daemon that keeps no instance warm (--idle-timeout 0).
cport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$build/lambdalite" serve --listen "127.0.0.1:$cport" --data-dir "$work/cold" --idle-timeout 0 2>"$work/cold.log" &
cold=$!
trap 'kill -TERM $daemon $cold 2>/dev/null; wait $daemon $cold 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$work/cold.log" 2>/dev/null && break; sleep 0.05; done
"$build/lambdalite" create-function echo --code "$work/echo" --endpoint "http://127.0.0.1:$cport" >/dev/null
"$build/bench/coldstart" --endpoint "http://127.0.0.1:$cport" --function echo \
  --bootstrap "$build/examples/echo/bootstrap" --count "${BENCH_COLD_COUNT:-50}"
