#!/usr/bin/env bash
# make bench: starts daemons on temporary data directories, deploys the benchmark function
# (examples/echo, a C function on liblambdalite-runtime) and runs each benchmark, which prints
# its figures beside a baseline measured in the same run. Usage: bench/run.sh BUILD_DIR
#   BENCH_SECONDS (3)     seconds per figure of bench/invoke
#   BENCH_COLD_COUNT (50) cold starts per figure of bench/coldstart
#   BENCH_WARM (20)       warm instances for the memory-per-instance figure
#   BENCH_LEVELS          concurrent clients of bench/scale (1,10,100,1000)
#   BENCH_QUEUE_FILL (20) seconds bench/queue spends filling the async queue
#   BENCH_STREAM_COUNT (1000) records bench/stream times from put to function start
#   BENCH_OBJECT_MB (100), BENCH_OBJECT_COUNT (200)  bench/objects: the large object's size, and
#                         uploads timed from PUT to function start
#   BENCH_PRICING_FILES (20) files of 1M options bench/pricing prices
#   BENCH_QUEENS ("8 10") board sizes bench/nqueens runs in the article's mode
#   BENCH_QUEENS_GRAIN ("10:9 12:10") N:GRAIN pairs it runs in grain mode
#   (bench/stream runs BENCH_SECONDS per throughput figure)
set -euo pipefail
build=${1:-build}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
mkdir -p "$work/echo" && cp "$build/examples/echo/bootstrap" "$work/echo/"

# start NAME ARGS...: a daemon on a free port with the echo function; sets $endpoint and $pid.
# The previous daemon is stopped first, so that no benchmark shares the machine with another's
# instances or queue.
start() {
  local name=$1 port
  shift
  if [ -n "${pid:-}" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$build/lambdalite" serve --listen "127.0.0.1:$port" --data-dir "$work/$name" "$@" 2>"$work/$name.log" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do grep -q "listening on" "$work/$name.log" 2>/dev/null && break; sleep 0.05; done
  endpoint="http://127.0.0.1:$port"
  "$build/lambdalite" create-function echo --code "$work/echo" --endpoint "$endpoint" >/dev/null
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

start warm
"$build/bench/invoke" --endpoint "$endpoint" --function echo --seconds "${BENCH_SECONDS:-3}"
echo

# Memory: the daemon's resident size before and after holding BENCH_WARM idle warm instances.
n=${BENCH_WARM:-20}
before=$(rss_kb "$pid")
for _ in $(seq "$n"); do
  "$build/lambdalite" invoke echo --payload '{"action":"sleep","ms":1500}' --endpoint "$endpoint" >/dev/null &
done
wait $(jobs -p | grep -v "^$pid$" || true) 2>/dev/null || true
after=$(rss_kb "$pid")
echo "bench/memory: daemon RSS ${before} kB idle, ${after} kB with $n warm instances:" \
  "$(( (after - before) / n )) kB per warm instance (the instances' own memory is theirs)"
# The warm pool's prepared sandboxes are copies of the daemon (its children, same command line)
# waiting to exec: what each costs is its proportional share of pages (Pss).
pooled=0 pss=0
for c in $(pgrep -P "$pid"); do
  [ "$(tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null)" = "$(tr '\0' ' ' <"/proc/$pid/cmdline")" ] || continue
  pooled=$((pooled + 1))
  pss=$((pss + $(awk '/^Pss:/ {print $2}' "/proc/$c/smaps_rollup")))
done
[ "$pooled" -gt 0 ] && echo "bench/memory: warm pool: $pooled prepared sandboxes, $((pss / pooled)) kB Pss each"
echo

# Scale: many clients, one function sleeping 10 ms; instances and memory not the limit here.
start scale --max-instances 1000 --memory-budget 1000000
"$build/bench/scale" --endpoint "$endpoint" --function echo --seconds "${BENCH_SECONDS:-3}" \
  --levels "${BENCH_LEVELS:-1,10,100,1000}"
echo

# A deep async queue beside sync invokes: "hold" can run one event at a time and the first one
# sleeps for ten minutes, so everything queued for it stays queued.
start queue
"$build/lambdalite" create-function hold --code "$work/echo" --timeout 900 --endpoint "$endpoint" >/dev/null
/usr/bin/aws --endpoint-url "$endpoint" --region us-east-1 lambda put-function-concurrency \
  --function-name hold --reserved-concurrent-executions 1 >/dev/null
"$build/lambdalite" invoke hold --async --payload '{"action":"sleep","ms":600000}' \
  --endpoint "$endpoint" 2>/dev/null
"$build/bench/queue" --endpoint "$endpoint" --function echo --blocked hold \
  --seconds "${BENCH_SECONDS:-3}" --fill "${BENCH_QUEUE_FILL:-20}"
echo

# Streams: PutRecords ingest and GetRecords reads on a 4-shard stream (fsync batch, the default),
# then put -> function start through an event source mapping to the echo function, which
# reports each start over UDP.
start stream
aws_() { /usr/bin/aws --endpoint-url "$endpoint" --region us-east-1 "$@" >/dev/null; }
aws_ kinesis create-stream --stream-name bench --shard-count 4
aws_ kinesis create-stream --stream-name latency --shard-count 1
udp=$(/usr/bin/python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$build/lambdalite" create-function stamp --code "$work/echo" --env "ECHO_STAMP_UDP=127.0.0.1:$udp" \
  --endpoint "$endpoint" >/dev/null
aws_ lambda create-event-source-mapping --function-name stamp --batch-size 1 \
  --event-source-arn arn:aws:kinesis:us-east-1:000000000000:stream/latency --starting-position LATEST
aws_ kinesis create-stream --stream-name mapped --shard-count 4
aws_ lambda create-event-source-mapping --function-name stamp --batch-size 1000 \
  --event-source-arn arn:aws:kinesis:us-east-1:000000000000:stream/mapped --starting-position LATEST
"$build/bench/stream" --endpoint "$endpoint" --stream bench --dir "$work" \
  --seconds "${BENCH_SECONDS:-3}" --latency-stream latency --udp-port "$udp" \
  --count "${BENCH_STREAM_COUNT:-1000}" --mapped-stream mapped
echo

# Objects: PUT/GET of 1 KB and of BENCH_OBJECT_MB (100) MB objects beside the same bytes written
# and read on the same disk, then upload -> function start through a bucket notification.
start objects
aws_ s3api create-bucket --bucket notify
udp=$(/usr/bin/python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$build/lambdalite" create-function stamp --code "$work/echo" --env "ECHO_STAMP_UDP=127.0.0.1:$udp" \
  --endpoint "$endpoint" >/dev/null
aws_ s3api put-bucket-notification-configuration --bucket notify --notification-configuration \
  '{"LambdaFunctionConfigurations":[{"LambdaFunctionArn":"arn:aws:lambda:us-east-1:000000000000:function:stamp","Events":["s3:ObjectCreated:*"]}]}'
"$build/bench/objects" --endpoint "$endpoint" --dir "$work" --seconds "${BENCH_SECONDS:-3}" \
  --big-mb "${BENCH_OBJECT_MB:-100}" --notify-bucket notify --udp-port "$udp" \
  --count "${BENCH_OBJECT_COUNT:-200}"
echo

# Pricing files from the object store (examples/s3-pricing deployed from its serverless.yml):
# the files are staged in the bucket first, then copied under in/ (server-side CopyObject), so
# the figure is the platform's own — notification, function, streamed read, pricing, write
# back — beside the same parser and pricer run directly on the files, one process per core.
start pricing
files=${BENCH_PRICING_FILES:-20}
mkdir -p "$work/pricing" "$work/params" && cp "$(dirname "$0")/../examples/s3-pricing/serverless.yml" "$build/examples/s3-pricing/bootstrap" "$work/pricing/"
LAMBDALITE_ENDPOINT="$endpoint" "$build/lambdalite" deploy -c "$work/pricing/serverless.yml" >/dev/null
seq "$files" | xargs -P "$(nproc)" -I{} sh -c "\"$build/examples/s3-pricing/gen\" --lines 1000000 --seed {} > \"$work/params/p{}.txt\""
/usr/bin/python3 - "$endpoint" "$work/params" "$build/examples/s3-pricing/bootstrap" "$files" <<'PY'
import concurrent.futures, glob, os, subprocess, sys, time
import boto3
endpoint, folder, pricer, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
paths = sorted(glob.glob(folder + "/*.txt"))
cores = os.cpu_count() or 1
t = time.perf_counter()
procs = [subprocess.Popen([pricer, "--local", *paths[i::cores]], stdout=subprocess.PIPE) for i in range(cores)]
rows = sum(int(line.split()[1]) for p in procs for line in p.communicate()[0].decode().splitlines())
base = rows / (time.perf_counter() - t)
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
for p in paths:
    s3.upload_file(p, "pricing-input-dev", "staging/" + os.path.basename(p))
t = time.perf_counter()
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    list(pool.map(lambda p: s3.copy_object(Bucket="pricing-input-dev", Key="in/" + os.path.basename(p),
                                           CopySource={"Bucket": "pricing-input-dev", "Key": "staging/" + os.path.basename(p)}), paths))
while ddb.scan(TableName="pricing-summary-dev", Select="COUNT")["Count"] < n:
    time.sleep(0.02)
plat = rows / (time.perf_counter() - t)
print(f"bench/pricing: {n} files x 1M options ({rows} options)")
print(f"  platform (copy into in/ -> last summary): {plat / 1e6:.2f} M options/s | same parser and pricer, "
      f"{cores} processes on the files: {base / 1e6:.2f} M options/s | ratio {plat / base:.2f}")
PY
rm -rf "$work/params"
echo

# N-Queens through a stream (examples/nqueens deployed from its serverless.yml), beside the same
# search as one C loop.
start nqueens
mkdir -p "$work/queens" && cp "$(dirname "$0")/../examples/nqueens/serverless.yml" "$build/examples/nqueens/bootstrap" "$work/queens/"
LAMBDALITE_ENDPOINT="$endpoint" "$build/lambdalite" deploy -c "$work/queens/serverless.yml" >/dev/null
for n in ${BENCH_QUEENS:-8 10}; do "$build/bench/nqueens" --endpoint "$endpoint" --n "$n"; done
for ng in ${BENCH_QUEENS_GRAIN:-10:9 12:10}; do
  GRAIN=${ng#*:} LAMBDALITE_ENDPOINT="$endpoint" "$build/lambdalite" deploy -c "$work/queens/serverless.yml" >/dev/null
  "$build/bench/nqueens" --endpoint "$endpoint" --n "${ng%:*}" --grain "${ng#*:}"
done
echo

# Tables: PutItem and GetItem beside raw SQLite doing the same in one process.
start table
"$build/bench/table" --endpoint "$endpoint" --dir "$work" --seconds "${BENCH_SECONDS:-3}"
echo

# Cold starts: daemons that keep no instance warm (--idle-timeout 0), sandbox on and off.
for sb in on off; do
  start "cold-$sb" --idle-timeout 0 --sandbox "$sb"
  echo "sandbox $sb:"
  "$build/bench/coldstart" --endpoint "$endpoint" --function echo \
    --bootstrap "$build/examples/echo/bootstrap" --count "${BENCH_COLD_COUNT:-50}"
  echo
done
