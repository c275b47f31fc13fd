#!/usr/bin/env bash
# The demo behind `make demo`: starts a daemon on a temporary data directory, creates the
# example C function, invokes it with the AWS CLI and with `lambdalite invoke --log`, shows the
# log lines, feeds it from a Kinesis stream through an event source mapping, deploys the white
# paper's Black-Scholes function as a stack and prices its option (then 100 parallel
# invocations with their latency histogram), runs the paper's pricing pipeline at demo scale
# (DEMO_PRICING_FILES, 20, files of 1M options through the bucket), the article's N-Queens
# fan-out (DEMO_QUEENS, 8), and stops the daemon. Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
repo=$(cd "$(dirname "$0")/.." && pwd)
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

step "a Kinesis stream feeding the function through an event source mapping (batches of 10)"
aws_() { /usr/bin/aws --endpoint-url "$endpoint" "$@"; }
aws_ kinesis create-stream --stream-name work --shard-count 2
aws_ lambda create-event-source-mapping --function-name echo --batch-size 10 \
  --starting-position TRIM_HORIZON --event-source-arn arn:aws:kinesis:us-east-1:000000000000:stream/work \
  --query '{UUID:UUID,State:State,BatchSize:BatchSize}'
before=$("$bin" logs echo | grep -c REPORT || true)
records=$(for i in $(seq 25); do printf '{"Data":"%s","PartitionKey":"board-%d"},' "$(printf 'record %d' "$i" | base64)" "$i"; done)
shards=$(aws_ kinesis put-records --stream-name work --records "[${records%,}]" \
  --query 'Records[*].ShardId' --output text)
n0=$(echo "$shards" | tr '\t' '\n' | grep -c 'shardId-000000000000' || true)
n1=$((25 - n0))
echo "put 25 records: $n0 went to shardId-000000000000, $n1 to shardId-000000000001 (MD5 of the key)"
want=$(( (n0 + 9) / 10 + (n1 + 9) / 10 ))
for _ in $(seq 100); do
  [ "$(( $("$bin" logs echo | grep -c REPORT || true) - before ))" -ge "$want" ] && break
  sleep 0.1
done
"$bin" info | tail -n 3
after=$("$bin" logs echo | grep -c REPORT || true)
echo "the 25 records reached echo in $((after - before)) batches of at most 10, each from one shard"
[ "$((after - before))" -eq "$want" ]

step "the white paper's Black-Scholes function, deployed as a stack (examples/black-scholes)"
mkdir -p "$work/bs" && cp "$repo/examples/black-scholes/serverless.yml" "$build/examples/black-scholes/bootstrap" "$work/bs/"
"$bin" deploy -c "$work/bs/serverless.yml" | grep -E "^Stack|functions:|  price:"
aws_ lambda invoke --function-name black-scholes-dev-price --cli-binary-format raw-in-base64-out \
  --payload '{"Ticker":"AAPL","EquityPrice":200,"Strike":220,"Rate":0.025,"Time":0.25,"Volatility":0.2673,"CallPut":"c"}' \
  --log-type Tail "$work/bs.json" --query LogResult --output text | base64 -d | grep REPORT
echo "price: $(cat "$work/bs.json")"
grep -q '"BlackScholes_Option_Price":4.220232' "$work/bs.json"

step "100 parallel invocations of it: the latency distribution"
/usr/bin/python3 - "$endpoint" <<'PY'
import concurrent.futures, json, sys, time
import boto3, botocore.config
lam = boto3.client("lambda", endpoint_url=sys.argv[1], region_name="us-east-1",
                   config=botocore.config.Config(max_pool_connections=100, retries={"max_attempts": 0}))
event = json.dumps({"Ticker": "AAPL", "EquityPrice": 200, "Strike": 220, "Rate": 0.025,
                    "Time": 0.25, "Volatility": 0.2673, "CallPut": "c"})
def one(_):
    t = time.perf_counter()
    r = lam.invoke(FunctionName="black-scholes-dev-price", Payload=event)
    assert json.loads(r["Payload"].read())["BlackScholes_Option_Price"] == 4.220232
    return (time.perf_counter() - t) * 1000
with concurrent.futures.ThreadPoolExecutor(100) as pool:
    ms = sorted(pool.map(one, range(100)))
edges = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 1e9]
print(f"100 invocations: p50 {ms[49]:.1f} ms, p90 {ms[89]:.1f} ms, p99 {ms[98]:.1f} ms, max {ms[-1]:.1f} ms (client-side, boto3)")
for lo, hi in zip(edges, edges[1:]):
    n = sum(lo <= m < hi for m in ms)
    if n:
        label = f"{lo:g}-{hi:g} ms" if hi < 1e9 else f">= {lo:g} ms"
        print(f"  {label:>14} {'#' * n} {n}")
PY
"$bin" remove -c "$work/bs/serverless.yml" | tail -n 1

n=${DEMO_QUEENS:-8}
step "the Kinesis article's N-Queens fan-out, N=$n in its mode: one square per record (examples/nqueens)"
mkdir -p "$work/queens" && cp "$repo/examples/nqueens/serverless.yml" "$build/examples/nqueens/bootstrap" "$work/queens/"
"$bin" deploy -c "$work/queens/serverless.yml" | grep -E "^Stack|  queensHandler:"
t0=$(date +%s.%N)
aws_ lambda invoke --function-name queens-completion-lambda-kinesis-dev-queensHandler \
  --cli-binary-format raw-in-base64-out --payload "{\"seed\":$n}" "$work/seed.json" >/dev/null
until "$bin" info --json | /usr/bin/python3 -c 'import json,sys; m=json.load(sys.stdin)["eventSourceMappings"]; sys.exit(0 if m and all(x["Drained"] for x in m) else 1)'; do
  sleep 0.05
done
t1=$(date +%s.%N)
"$bin" info | grep -- "->"
solutions=$(aws_ dynamodb scan --table-name queensResultsTable --select COUNT --query Count --output text)
/usr/bin/python3 -c '
import sys
n, sols, wall = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[4]) - float(sys.argv[3])
seeds = {8: ("231 s", 231, "0.4 s", 0.4), 10: ("19 min 54 s", 1194, "10 s", 10)}
print(f"N={n}: {sols} solutions in {wall:.2f} s through the stream (the drained state tells the end)")
if n in seeds:
    lam, lam_s, lap, lap_s = seeds[n]
    print(f"the seeds: {lam} on Lambda ({lam_s / wall:.0f}x this run), {lap} on a laptop")
' "$n" "$solutions" "$t0" "$t1"
"$bin" remove -c "$work/queens/serverless.yml" | tail -n 1

files=${DEMO_PRICING_FILES:-20}
step "the white paper's pricing pipeline: $files files of 1M options uploaded, each priced as it lands (examples/s3-pricing)"
mkdir -p "$work/pricing" "$work/params" && cp "$repo/examples/s3-pricing/serverless.yml" "$build/examples/s3-pricing/bootstrap" "$work/pricing/"
"$bin" deploy -c "$work/pricing/serverless.yml" | grep -E "^Stack|  pricer:"
seq "$files" | xargs -P 2 -I{} sh -c "\"$build/examples/s3-pricing/gen\" --lines 1000000 --seed {} > \"$work/params/params-{}.txt\""
echo "generated: $(du -sh "$work/params" | cut -f1) in $files files"
t0=$(date +%s.%N)
aws_ s3 cp --recursive --quiet "$work/params" s3://pricing-input-dev/in/
for _ in $(seq 600); do
  n=$(aws_ dynamodb scan --table-name pricing-summary-dev --select COUNT --query Count --output text)
  [ "$n" -ge "$files" ] && break
  sleep 0.2
done
t1=$(date +%s.%N)
rm -rf "$work/params"
aws_ dynamodb scan --table-name pricing-summary-dev --output json | /usr/bin/python3 -c '
import json, sys
items = json.load(sys.stdin)["Items"]
rows = sum(int(i["rows"]["N"]) for i in items)
ms = [int(i["elapsed_ms"]["N"]) for i in items]
wall = float(sys.argv[2]) - float(sys.argv[1])
total = sum(float(i["sum"]["N"]) for i in items)
print(f"{len(items)} files priced, {rows} options, sum of prices {total:.2f}")
print(f"upload to the last summary: {wall:.1f} s ({rows / wall / 1e6:.2f} M options/s including the uploads); "
      f"per file in the function: {min(ms)}..{max(ms)} ms ({1e3 * rows / len(items) / (sum(ms) / len(ms)) / 1e6:.1f} M options/s each)")
' "$t0" "$t1"
aws_ s3 rm --recursive --quiet s3://pricing-input-dev/
"$bin" remove -c "$work/pricing/serverless.yml" | tail -n 1

step "stopping the daemon (SIGTERM)"
kill -TERM "$daemon"
wait "$daemon"
daemon=
tail -n 1 "$work/daemon.log"
echo "demo: ok"
