"""Issue 9: the field's workloads as examples (examples/*), deployed as stacks and run end to end
with exact results."""

import base64
import json
import shutil

from e2e_util import BUILD, REPO, REPORT_RE, START_RE


def example_service(name, tmp_path):
    """The example's serverless.yml with its built bootstrap beside it, in a folder of its own."""
    d = tmp_path / name
    d.mkdir()
    shutil.copy(REPO / "examples" / name / "serverless.yml", d / "serverless.yml")
    shutil.copy(BUILD / "examples" / name / "bootstrap", d / "bootstrap")
    return d / "serverless.yml"


PAPER_EVENT = {"Ticker": "AAPL", "EquityPrice": 200, "Strike": 220, "Rate": 0.025, "Time": 0.25,
               "Volatility": 0.2673, "CallPut": "c"}


def test_black_scholes_prices_the_papers_option(daemon, cli, aws, tmp_path):
    yml = example_service("black-scholes", tmp_path)
    cli("deploy", "-c", yml, timeout=120)
    # as the paper invokes it: aws lambda invoke --log-type Tail
    out, result = aws.invoke("black-scholes-dev-price", PAPER_EVENT, "--log-type", "Tail")
    priced = json.loads(result)
    assert priced == dict(PAPER_EVENT, BlackScholes_Option_Price=4.220232), priced
    log = base64.b64decode(out["LogResult"]).decode()
    assert START_RE.search(log) and REPORT_RE.search(log), log

    _, result = aws.invoke("black-scholes-dev-price", dict(PAPER_EVENT, CallPut="p"))
    assert round(json.loads(result)["BlackScholes_Option_Price"], 6) == 22.849520

    out, result = aws.invoke("black-scholes-dev-price", dict(PAPER_EVENT, CallPut="x"))
    assert out["FunctionError"] == "Unhandled"
    err = json.loads(result)
    assert (err["errorType"], err["errorMessage"]) == ("PricingError", "(c)all/(p)ut error"), err

    missing = dict(PAPER_EVENT)
    del missing["Strike"]
    out, result = aws.invoke("black-scholes-dev-price", missing)
    assert out["FunctionError"] == "Unhandled"
    err = json.loads(result)
    assert (err["errorType"], err["errorMessage"]) == ("InvalidEvent", "missing field Strike (a number)"), err
    cli("remove", "-c", yml, timeout=120)


# ---- N-Queens fanned out through a stream ----------------------------------------------------

# (records through the stream, the empty set included; solutions)
QUEENS = {5: (462, 10), 6: (2635, 4), 7: (16870, 40), 8: (118969, 92)}


def wait_drained(cli, timeout=300):
    """Until every mapping has done every record of its stream with no batch out (twice in a
    row, a moment apart)."""
    import time

    deadline = time.monotonic() + timeout
    streak = 0
    while time.monotonic() < deadline:
        maps = cli.json("info", "--json")["eventSourceMappings"]
        streak = streak + 1 if maps and all(m["Drained"] for m in maps) else 0
        if streak == 2:
            return
        time.sleep(0.2)
    raise AssertionError(f"not drained after {timeout} s: {maps}")


def stream_records(kinesis, name):
    total = 0
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while True:
            r = kinesis.get_records(ShardIterator=it, Limit=10000)
            total += len(r["Records"])
            if not r["Records"] and r["MillisBehindLatest"] == 0:
                break
            it = r["NextShardIterator"]
    return total


def solutions(daemon):
    from e2e_util import make_client

    ddb = make_client("dynamodb", daemon.endpoint)
    items, start = [], None
    while True:
        kw = {"ExclusiveStartKey": start} if start else {}
        r = ddb.scan(TableName="queensResultsTable", **kw)
        items += r["Items"]
        start = r.get("LastEvaluatedKey")
        if not start:
            return items


def run_queens(daemon, cli, lam, tmp_path, n, grain):
    """Deploys the example, seeds the empty n x n board, waits until the stream is drained and
    returns the solutions in the table."""
    yml = example_service("nqueens", tmp_path / f"q{n}-{grain}")
    cli("deploy", "-c", yml, env={"GRAIN": str(grain)}, timeout=120)
    r = lam.invoke(FunctionName="queens-completion-lambda-kinesis-dev-queensHandler",
                   Payload=json.dumps({"seed": n}))
    assert json.loads(r["Payload"].read()) == {"seeded": n}
    wait_drained(cli)
    return solutions(daemon)


def test_nqueens_in_the_articles_mode_makes_every_set_once(daemon, cli, lam, kinesis, tmp_path):
    for n in (6, 7, 8):
        (tmp_path / f"q{n}-1").mkdir()
        items = run_queens(daemon, cli, lam, tmp_path, n, grain=1)
        assert len(items) == QUEENS[n][1], n
        assert all(it["n"]["N"] == str(n) for it in items)
        assert stream_records(kinesis, "queensWorkStream") == QUEENS[n][0], n
        cli("remove", "-c", tmp_path / f"q{n}-1" / "nqueens" / "serverless.yml", timeout=120)


def test_nqueens_in_grain_mode_finds_the_same_solutions_with_fewer_records(daemon, cli, lam, kinesis, tmp_path):
    for n in (6, 7):
        (tmp_path / f"q{n}-5").mkdir()
        assert len(run_queens(daemon, cli, lam, tmp_path, n, grain=5)) == QUEENS[n][1], n
        cli("remove", "-c", tmp_path / f"q{n}-5" / "nqueens" / "serverless.yml", timeout=120)
    # GRAIN 7 on 8 x 8: sets of 2 squares and more are searched where they arrive, so the stream
    # carries the empty set, the 64 single squares and the 1,288 non-attacking pairs only
    (tmp_path / "q8-7").mkdir()
    items = run_queens(daemon, cli, lam, tmp_path, 8, grain=7)
    assert len(items) == QUEENS[8][1]
    assert stream_records(kinesis, "queensWorkStream") == 1 + 64 + 1288
    cli("remove", "-c", tmp_path / "q8-7" / "nqueens" / "serverless.yml", timeout=120)


# ---- pricing files from the object store ------------------------------------------------------


def bs_call(s, x, t, r, v):
    """The pricer's formula in Python (A&S 26.2.17), for the single-process check."""
    import math

    def cnd(z):
        l = abs(z)
        k = 1.0 / (1.0 + 0.2316419 * l)
        poly = k * (.31938153 + k * (-.356563782 + k * (1.781477937 + k * (-1.821255978 + k * 1.330274429))))
        w = 1.0 - math.exp(-l * l / 2.0) * 0.3989422804014327 * poly
        return 1.0 - w if z < 0 else w

    sq = v * math.sqrt(t)
    d1 = (math.log(s / x) + (r + v * v / 2.0) * t) / sq
    return s * cnd(d1) - x * math.exp(-r * t) * cnd(d1 - sq)


def test_s3_pricing_prices_every_uploaded_file(daemon, cli, aws, s3, tmp_path):
    import subprocess

    yml = example_service("s3-pricing", tmp_path)
    cli("deploy", "-c", yml, timeout=120)
    files = {}
    for i in range(3):
        p = tmp_path / f"params-{i}.txt"
        with open(p, "w") as f:
            subprocess.run([str(BUILD / "examples" / "s3-pricing" / "gen"), "--lines", "30000", "--seed", str(i + 1)],
                           stdout=f, check=True)
        files[f"in/params-{i}.txt"] = p
        aws("s3", "cp", str(p), f"s3://pricing-input-dev/in/params-{i}.txt", check=False)
    s3.put_object(Bucket="pricing-input-dev", Key="other/ignored.txt", Body=b"1 1 1 1 1\n")  # no prefix: no run
    from e2e_util import make_client, wait_until

    ddb = make_client("dynamodb", daemon.endpoint)

    def summaries():
        return {it["key"]["S"]: it for it in ddb.scan(TableName="pricing-summary-dev")["Items"]}

    wait_until(lambda: len(summaries()) == 3, timeout=120, message="3 files priced")
    got = summaries()
    assert set(got) == set(files)
    for key, path in files.items():
        rows = [tuple(map(float, line.split())) for line in path.read_text().splitlines()]
        want = [bs_call(*row[:2], row[2], row[3], row[4]) for row in rows]
        item = got[key]
        assert int(item["rows"]["N"]) == len(rows) == 30000 and int(item["bad"]["N"]) == 0
        assert abs(float(item["sum"]["N"]) - sum(want)) < 1e-6 * len(rows), (item, sum(want))
        prices = s3.get_object(Bucket="pricing-input-dev", Key="prices/" + key)["Body"].read().decode().split()
        assert len(prices) == len(rows)
        assert all(abs(float(p) - w) <= 5e-7 + 1e-9 * abs(w) for p, w in zip(prices, want))
    # remove refuses the bucket while it holds objects, as AWS does; emptied, it goes
    for obj in s3.list_objects_v2(Bucket="pricing-input-dev")["Contents"]:
        s3.delete_object(Bucket="pricing-input-dev", Key=obj["Key"])
    cli("remove", "-c", yml, timeout=120)


# ---- a stream forwarded to a process outside the platform --------------------------------------


def test_stream_to_tcp_delivers_every_record_to_the_remote_server(daemon, cli, kinesis, tmp_path):
    import subprocess
    import time

    from e2e_util import free_port, wait_until

    port = free_port()
    received = tmp_path / "received.txt"
    server = subprocess.Popen(["/usr/bin/python3", str(REPO / "examples" / "stream-to-tcp" / "server.py"),
                               "--port", str(port), "--out", str(received)], stderr=subprocess.PIPE)
    try:
        assert b"listening" in server.stderr.readline()
        yml = example_service("stream-to-tcp", tmp_path)
        cli("deploy", "-c", yml, env={"FORWARD_TO": f"127.0.0.1:{port}"}, timeout=120)
        sent = [f"tick-{i}" for i in range(1000)]
        for i in range(0, len(sent), 250):
            kinesis.put_records(StreamName="ticks", Records=[{"Data": s.encode(), "PartitionKey": s} for s in sent[i:i + 250]])

        def lines():
            return received.read_text().splitlines() if received.exists() else []

        wait_until(lambda: len(lines()) >= len(sent), timeout=60, message="every record at the server")
        time.sleep(0.3)
        assert sorted(lines()) == sorted(sent)  # each record once: no batch failed
        cli("remove", "-c", yml, env={"FORWARD_TO": f"127.0.0.1:{port}"}, timeout=120)
    finally:
        server.terminate()
        server.wait()
