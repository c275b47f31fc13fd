#!/usr/bin/env bash
# The demo behind `make demo`: starts a daemon on a temporary data directory, creates the
# example C function, invokes it with the AWS CLI and with `lambdalite invoke --log`, shows the
# log lines, and stops the daemon. Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
bin="$build/lambdalite"
work=$(mktemp -d)
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
endpoint="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=
export LAMBDALITE_ENDPOINT="$endpoint"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
  if [ -n "${daemon:-}" ]; then kill -TERM "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

step "starting the daemon on $endpoint (data dir $work/data)"
"$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/data" 2>"$work/daemon.log" &
daemon=$!
for _ in $(seq 100); do
  grep -q "listening on" "$work/daemon.log" 2>/dev/null && break
  sleep 0.05
done
cat "$work/daemon.log"

step "lambdalite info (what isolation this machine allows)"
"$bin" info

step "packaging the example C function (examples/echo, built with liblambdalite-runtime)"
mkdir -p "$work/echo" && cp "$build/examples/echo/bootstrap" "$work/echo/"
(cd "$work/echo" && zip -q ../echo.zip bootstrap)
ls -l "$work/echo.zip"

step "aws lambda create-function"
/usr/bin/aws --endpoint-url "$endpoint" lambda create-function --function-name echo \
  --runtime provided.al2023 --handler echo --role arn:aws:iam::000000000000:role/lambda-role \
  --zip-file "fileb://$work/echo.zip" \
  --query '{FunctionName:FunctionName,Runtime:Runtime,State:State,CodeSha256:CodeSha256}'

step "aws lambda invoke --log-type Tail (a cold start: note Init Duration in REPORT)"
/usr/bin/aws --endpoint-url "$endpoint" lambda invoke --function-name echo \
  --cli-binary-format raw-in-base64-out --payload '{"hello":"lambdalite"}' \
  --log-type Tail "$work/out.json" --query LogResult --output text | base64 -d
echo "result: $(cat "$work/out.json")"

step "lambdalite invoke --log (warm: the same instance answers, no Init Duration)"
"$bin" invoke echo --payload '{"action":"log","text":"hello from the function"}' --log

step "lambdalite invoke of a function error (exit status 1 is expected)"
"$bin" invoke echo --payload '{"action":"error"}' || true

step "lambdalite logs echo"
"$bin" logs echo

step "stopping the daemon (SIGTERM)"
kill -TERM "$daemon"
wait "$daemon"
daemon=
tail -n 1 "$work/daemon.log"
echo "demo: ok"
