"""Kinesis Data Streams (issue 5): the stream API through boto3 and the AWS CLI — management,
records in and out, shard routing by MD5 of the partition key, validation errors in AWS's
shape, and durability across restarts and kill -9."""

import base64
import hashlib
import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from e2e_util import Producers, make_client, wait_until

ACCOUNT = "000000000000"
MAX_HASH = 2**128 - 1


def new_name():
    return "s-" + uuid.uuid4().hex[:10]


def error_of(e):
    return e.response["Error"]["Code"], e.response["Error"]["Message"], e.response["ResponseMetadata"]["HTTPStatusCode"]


def raises(code, fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    got = error_of(e.value)
    assert got[0] == code, got
    return got[1]


def call(raw, action, body):
    """A Kinesis action as raw JSON 1.1: for the fields newer than Debian's botocore (StreamARN,
    Tags on CreateStream, NextToken on ListStreams), which its client would drop. -> (status, dict)."""
    r = raw.signed("POST", "/", body=json.dumps(body).encode(), service="kinesis",
                   extra_headers={"X-Amz-Target": f"Kinesis_20131202.{action}",
                                  "Content-Type": "application/x-amz-json-1.1"})
    return r.status, (r.json() if r.body else {})


@pytest.fixture
def raw_kinesis(daemon):
    """A client without botocore's own parameter checks, to send what the daemon must refuse."""
    return make_client("kinesis", daemon.endpoint, validate=False)


def create(kinesis, shards=1, **kw):
    name = new_name()
    kinesis.create_stream(StreamName=name, ShardCount=shards, **kw)
    return name


def read_all(kinesis, name, shard_id, kind="TRIM_HORIZON", **kw):
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id, ShardIteratorType=kind, **kw)["ShardIterator"]
    out = []
    while True:
        got = kinesis.get_records(ShardIterator=it, Limit=10000)
        out += got["Records"]
        it = got["NextShardIterator"]
        if not got["Records"]:
            return out


def shard_for(key, shards):
    h = int(hashlib.md5(key.encode()).hexdigest(), 16)
    for s in shards:
        if int(s["HashKeyRange"]["StartingHashKey"]) <= h <= int(s["HashKeyRange"]["EndingHashKey"]):
            return s["ShardId"]
    raise AssertionError(f"no shard covers {h}")


# ---------------------------------------------------------------------------------------------
# Management


def test_create_describe_list_delete(kinesis, raw):
    name = create(kinesis, shards=4)
    d = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert d["StreamName"] == name and d["StreamStatus"] == "ACTIVE"
    assert d["StreamARN"] == f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{name}"
    assert d["RetentionPeriodHours"] == 24 and d["HasMoreShards"] is False
    assert d["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    ids = [s["ShardId"] for s in d["Shards"]]
    assert ids == [f"shardId-{i:012d}" for i in range(4)]
    # four even ranges of the 128-bit hash space, the last ending at 2^128 - 1
    q = 2**128 // 4
    for i, s in enumerate(d["Shards"]):
        assert int(s["HashKeyRange"]["StartingHashKey"]) == q * i
        assert int(s["HashKeyRange"]["EndingHashKey"]) == (MAX_HASH if i == 3 else q * (i + 1) - 1)
        assert len(s["SequenceNumberRange"]["StartingSequenceNumber"]) == 56
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 4 and summary["StreamStatus"] == "ACTIVE"
    assert name in kinesis.list_streams()["StreamNames"]
    listed = kinesis.list_shards(StreamName=name)["Shards"]
    assert [s["ShardId"] for s in listed] == ids
    # by ARN too
    status, got = call(raw, "DescribeStreamSummary", {"StreamARN": d["StreamARN"]})
    assert status == 200 and got["StreamDescriptionSummary"]["StreamName"] == name
    status, got = call(raw, "DescribeStreamSummary", {"StreamARN": d["StreamARN"] + "x"})
    assert status == 400 and got["__type"] == "ResourceNotFoundException"
    msg = raises("ResourceInUseException", kinesis.create_stream, StreamName=name, ShardCount=1)
    assert msg == f"Stream {name} under account {ACCOUNT} already exists."
    kinesis.delete_stream(StreamName=name)
    msg = raises("ResourceNotFoundException", kinesis.describe_stream, StreamName=name)
    assert msg == f"Stream {name} under account {ACCOUNT} not found."
    assert name not in kinesis.list_streams()["StreamNames"]


def test_uneven_shard_ranges_cover_the_hash_space(kinesis):
    name = create(kinesis, shards=3)
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    q = 2**128 // 3
    assert [int(s["HashKeyRange"]["StartingHashKey"]) for s in shards] == [0, q, 2 * q]
    assert int(shards[-1]["HashKeyRange"]["EndingHashKey"]) == MAX_HASH
    for a, b in zip(shards, shards[1:]):
        assert int(a["HashKeyRange"]["EndingHashKey"]) + 1 == int(b["HashKeyRange"]["StartingHashKey"])


def test_on_demand_stream_and_paging(kinesis, raw):
    name = new_name()
    kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    d = kinesis.describe_stream(StreamName=name, Limit=2)["StreamDescription"]
    assert d["StreamModeDetails"]["StreamMode"] == "ON_DEMAND"
    assert len(d["Shards"]) == 2 and d["HasMoreShards"] is True
    rest = kinesis.describe_stream(StreamName=name, ExclusiveStartShardId=d["Shards"][-1]["ShardId"])
    assert len(rest["StreamDescription"]["Shards"]) == 2
    page = kinesis.list_shards(StreamName=name, MaxResults=3)
    assert len(page["Shards"]) == 3 and page["NextToken"]
    assert len(kinesis.list_shards(NextToken=page["NextToken"])["Shards"]) == 1
    # ListStreams pages by ExclusiveStartStreamName (what this botocore sends) and by NextToken
    other = create(kinesis)
    names, page = set(), kinesis.list_streams(Limit=1)
    while True:
        assert len(page["StreamNames"]) == 1
        names |= set(page["StreamNames"])
        if not page["HasMoreStreams"]:
            break
        page = kinesis.list_streams(Limit=1, ExclusiveStartStreamName=page["StreamNames"][-1])
    assert {name, other} <= names
    status, first = call(raw, "ListStreams", {"Limit": 1})
    assert status == 200 and first["HasMoreStreams"] is True and first["NextToken"]
    assert first["StreamSummaries"][0]["StreamName"] == first["StreamNames"][0]
    tokened, token = set(first["StreamNames"]), first["NextToken"]
    while token:
        status, page = call(raw, "ListStreams", {"NextToken": token, "Limit": 1})
        assert status == 200
        tokened |= set(page["StreamNames"])
        token = page.get("NextToken")
    assert tokened == names


def test_validation_errors(raw_kinesis):
    k = raw_kinesis
    msg = raises("ValidationException", k.create_stream, StreamName="bad name!", ShardCount=1)
    assert msg.startswith("1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint")
    msg = raises("ValidationException", k.create_stream, StreamName="x" * 129, ShardCount=0)
    assert msg.startswith("2 validation errors detected:"), msg
    raises("InvalidArgumentException", k.create_stream, StreamName=new_name())  # PROVISIONED needs a count
    raises("InvalidArgumentException", k.describe_stream_summary)
    raises("ResourceNotFoundException", k.describe_stream_summary, StreamName="nope-" + uuid.uuid4().hex[:6])
    raises("ValidationException", k.list_streams, Limit=0)


def test_shard_quota(kinesis):
    msg = raises("LimitExceededException", kinesis.create_stream, StreamName=new_name(), ShardCount=501)
    assert "shard limit" in msg


def test_retention_and_tags(kinesis, raw):
    name = create(kinesis)
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    assert kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["RetentionPeriodHours"] == 48
    msg = raises("InvalidArgumentException", kinesis.increase_stream_retention_period, StreamName=name, RetentionPeriodHours=30)
    assert "can not be shorter" in msg
    raises("InvalidArgumentException", kinesis.decrease_stream_retention_period, StreamName=name, RetentionPeriodHours=12)
    raises("InvalidArgumentException", kinesis.increase_stream_retention_period, StreamName=name, RetentionPeriodHours=9000)
    kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)
    assert kinesis.describe_stream(StreamName=name)["StreamDescription"]["RetentionPeriodHours"] == 24
    kinesis.add_tags_to_stream(StreamName=name, Tags={"team": "queens", "env": "dev"})
    tags = kinesis.list_tags_for_stream(StreamName=name)
    assert tags["Tags"] == [{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "queens"}]
    assert tags["HasMoreTags"] is False
    kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["env"])
    assert kinesis.list_tags_for_stream(StreamName=name)["Tags"] == [{"Key": "team", "Value": "queens"}]
    tagged = new_name()
    status, _ = call(raw, "CreateStream", {"StreamName": tagged, "ShardCount": 1, "Tags": {"a": "1"}})
    assert status == 200
    assert kinesis.list_tags_for_stream(StreamName=tagged)["Tags"] == [{"Key": "a", "Value": "1"}]


# ---------------------------------------------------------------------------------------------
# Records


def test_put_and_get_round_trip(kinesis):
    name = create(kinesis)
    seqs = []
    for i in range(5):
        r = kinesis.put_record(StreamName=name, Data=f"payload {i}".encode() + b"\x00\xff", PartitionKey=f"k{i}")
        assert r["ShardId"] == "shardId-000000000000" and r["EncryptionType"] == "NONE"
        seqs.append(r["SequenceNumber"])
    assert seqs == sorted(seqs, key=int) and len(set(seqs)) == 5
    before = time.time()
    recs = read_all(kinesis, name, "shardId-000000000000")
    assert [r["Data"] for r in recs] == [f"payload {i}".encode() + b"\x00\xff" for i in range(5)]
    assert [r["PartitionKey"] for r in recs] == [f"k{i}" for i in range(5)]
    assert [r["SequenceNumber"] for r in recs] == seqs
    for r in recs:
        assert abs(r["ApproximateArrivalTimestamp"].timestamp() - before) < 60
    # AT / AFTER a sequence number
    at = read_all(kinesis, name, "shardId-000000000000", "AT_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[2])
    assert [r["SequenceNumber"] for r in at] == seqs[2:]
    after = read_all(kinesis, name, "shardId-000000000000", "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[2])
    assert [r["SequenceNumber"] for r in after] == seqs[3:]
    # LATEST sees only what comes after it
    it = kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="LATEST")["ShardIterator"]
    got = kinesis.get_records(ShardIterator=it)
    assert got["Records"] == [] and got["MillisBehindLatest"] == 0
    kinesis.put_record(StreamName=name, Data=b"late", PartitionKey="k")
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=got["NextShardIterator"])["Records"]] == [b"late"]
    # Limit and continuation
    first = kinesis.get_records(ShardIterator=kinesis.get_shard_iterator(
        StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")["ShardIterator"], Limit=2)
    assert [r["SequenceNumber"] for r in first["Records"]] == seqs[:2]
    assert first["MillisBehindLatest"] >= 0
    nxt = kinesis.get_records(ShardIterator=first["NextShardIterator"], Limit=2)
    assert [r["SequenceNumber"] for r in nxt["Records"]] == seqs[2:4]


def test_at_timestamp(kinesis, raw):
    name = create(kinesis)
    kinesis.put_record(StreamName=name, Data=b"old", PartitionKey="k")
    # this botocore sends whole seconds: wait for the next second to start
    time.sleep(1.05 - time.time() % 1)
    mark = time.time()
    time.sleep(0.05)
    kinesis.put_record(StreamName=name, Data=b"new", PartitionKey="k")
    recs = read_all(kinesis, name, "shardId-000000000000", "AT_TIMESTAMP", Timestamp=int(mark))
    assert [r["Data"] for r in recs] == [b"new"]
    # a fractional timestamp (what newer SDKs send) is honoured to the millisecond
    time.sleep(0.05)
    mark2 = time.time()
    time.sleep(0.05)
    kinesis.put_record(StreamName=name, Data=b"newer", PartitionKey="k")
    status, it = call(raw, "GetShardIterator", {"StreamName": name, "ShardId": "shardId-000000000000",
                                                "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": mark2})
    assert status == 200
    got = kinesis.get_records(ShardIterator=it["ShardIterator"])
    assert [r["Data"] for r in got["Records"]] == [b"newer"]


def test_partition_keys_go_to_their_md5_ranges(kinesis):
    name = create(kinesis, shards=4)
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    keys = [f"key-{i}" for i in range(200)]
    want = {}
    for i in range(0, 200, 100):
        batch = [{"Data": k.encode(), "PartitionKey": k} for k in keys[i:i + 100]]
        out = kinesis.put_records(StreamName=name, Records=batch)
        assert out["FailedRecordCount"] == 0
        for k, r in zip(keys[i:i + 100], out["Records"]):
            assert r["ShardId"] == shard_for(k, shards), k
            want.setdefault(r["ShardId"], []).append(k)
    assert len(want) == 4  # 200 keys hit every shard
    for sid, ks in want.items():
        # each shard holds exactly its keys, in the order they were put
        assert [r["PartitionKey"] for r in read_all(kinesis, name, sid)] == ks


def test_explicit_hash_key_chooses_the_shard(kinesis, raw_kinesis):
    name = create(kinesis, shards=4)
    q = 2**128 // 4
    r = kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="anything", ExplicitHashKey=str(3 * q + 5))
    assert r["ShardId"] == "shardId-000000000003"
    r = kinesis.put_records(StreamName=name, Records=[{"Data": b"y", "PartitionKey": "p", "ExplicitHashKey": "0"}])
    assert r["Records"][0]["ShardId"] == "shardId-000000000000"
    msg = raises("ValidationException", raw_kinesis.put_record, StreamName=name, Data=b"x", PartitionKey="p",
                 ExplicitHashKey=str(2**128))
    assert "explicitHashKey" in msg


def test_put_records_limits_and_order(kinesis, raw_kinesis):
    name = create(kinesis)
    recs = [{"Data": str(i).encode(), "PartitionKey": "same"} for i in range(500)]
    out = kinesis.put_records(StreamName=name, Records=recs)
    assert out["FailedRecordCount"] == 0 and len(out["Records"]) == 500
    seqs = [int(r["SequenceNumber"]) for r in out["Records"]]
    assert seqs == sorted(seqs)
    assert [r["Data"] for r in read_all(kinesis, name, "shardId-000000000000")] == [str(i).encode() for i in range(500)]
    msg = raises("ValidationException", raw_kinesis.put_records, StreamName=name, Records=recs + recs[:1])
    assert "at 'records'" in msg
    raises("ValidationException", raw_kinesis.put_records, StreamName=name, Records=[])
    msg = raises("ValidationException", raw_kinesis.put_record, StreamName=name, Data=b"x", PartitionKey="")
    assert "partitionKey" in msg
    big = b"x" * (1024 * 1024)
    raises("ValidationException", raw_kinesis.put_record, StreamName=name, Data=big, PartitionKey="k")
    raises("ResourceNotFoundException", kinesis.put_record, StreamName="missing-" + uuid.uuid4().hex[:6], Data=b"x", PartitionKey="k")


def test_iterator_errors(kinesis, raw_kinesis):
    name = create(kinesis)
    seq = kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="k")["SequenceNumber"]
    raises("InvalidArgumentException", kinesis.get_records, ShardIterator="not-an-iterator")
    raises("ResourceNotFoundException", kinesis.get_shard_iterator, StreamName=name, ShardId="shardId-000000000007",
           ShardIteratorType="TRIM_HORIZON")
    raises("InvalidArgumentException", kinesis.get_shard_iterator, StreamName=name, ShardId="shardId-000000000000",
           ShardIteratorType="AT_SEQUENCE_NUMBER")
    raises("InvalidArgumentException", kinesis.get_shard_iterator, StreamName=name, ShardId="shardId-000000000000",
           ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber="12345")
    raises("ValidationException", raw_kinesis.get_shard_iterator, StreamName=name, ShardId="shardId-000000000000",
           ShardIteratorType="SIDEWAYS")
    raises("InvalidArgumentException", raw_kinesis.get_records, ShardIterator=kinesis.get_shard_iterator(
        StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")["ShardIterator"], Limit=10001)
    # an iterator older than 5 minutes: our iterators carry their issue time (ms) last
    it = kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="AT_SEQUENCE_NUMBER",
                                    StartingSequenceNumber=seq)["ShardIterator"]
    raw = base64.b64decode(it).decode()
    head, issued = raw.rsplit(":", 1)
    old = base64.b64encode(f"{head}:{int(issued) - 301_000}".encode()).decode()
    msg = raises("ExpiredIteratorException", kinesis.get_records, ShardIterator=old)
    assert "Iterator expired" in msg
    # a deleted and re-created stream does not honour the old stream's iterators
    kinesis.delete_stream(StreamName=name)
    kinesis.create_stream(StreamName=name, ShardCount=1)
    raises("ResourceNotFoundException", kinesis.get_records, ShardIterator=it)
    assert read_all(kinesis, name, "shardId-000000000000") == []


def test_unknown_kinesis_action(raw):
    r = raw.signed("POST", "/", body=b"{}", service="kinesis",
                   extra_headers={"X-Amz-Target": "Kinesis_20131202.SubscribeToShard",
                                  "Content-Type": "application/x-amz-json-1.1"})
    assert r.status == 400 and b"UnknownOperationException" in r.body


# ---------------------------------------------------------------------------------------------
# Through the AWS CLI


def test_aws_cli_round_trip(aws):
    name = new_name()
    aws("kinesis", "create-stream", "--stream-name", name, "--shard-count", "2")
    aws("kinesis", "wait", "stream-exists", "--stream-name", name)
    put = aws("kinesis", "put-record", "--stream-name", name, "--partition-key", "pk1",
              "--data", "hello", "--cli-binary-format", "raw-in-base64-out")
    assert put["ShardId"].startswith("shardId-") and len(put["SequenceNumber"]) == 56
    it = aws("kinesis", "get-shard-iterator", "--stream-name", name, "--shard-id", put["ShardId"],
             "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"]
    got = aws("kinesis", "get-records", "--shard-iterator", it)
    assert [base64.b64decode(r["Data"]) for r in got["Records"]] == [b"hello"]
    assert got["Records"][0]["PartitionKey"] == "pk1"
    summary = aws("kinesis", "describe-stream-summary", "--stream-name", name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 2
    assert name in aws("kinesis", "list-streams")["StreamNames"]
    aws("kinesis", "delete-stream", "--stream-name", name)
    r = aws("kinesis", "describe-stream", "--stream-name", name, check=False)
    assert r.returncode != 0 and "ResourceNotFoundException" in r.stderr


# ---------------------------------------------------------------------------------------------
# Durability


def test_records_survive_a_restart_and_numbering_goes_on(daemon_factory):
    d = daemon_factory()
    k = make_client("kinesis", d.endpoint)
    name = create(k, shards=2)
    first = [k.put_record(StreamName=name, Data=f"a{i}".encode(), PartitionKey="p")["SequenceNumber"] for i in range(3)]
    d.restart()
    k = make_client("kinesis", d.endpoint)
    later = k.put_record(StreamName=name, Data=b"after", PartitionKey="p")["SequenceNumber"]
    assert int(later) > int(first[-1])
    shard = k.put_record(StreamName=name, Data=b"probe", PartitionKey="p")["ShardId"]
    assert [r["Data"] for r in read_all(k, name, shard)] == [b"a0", b"a1", b"a2", b"after", b"probe"]


@pytest.mark.parametrize("fsync", ["batch", "never"])
def test_acknowledged_records_survive_kill_9(daemon_factory, fsync):
    # Producers put continuously; the daemon is SIGKILLed mid-stream. Every record whose put was
    # acknowledged must be there after the restart, in order, numbered as acknowledged.
    d = daemon_factory(extra_args=["--fsync", fsync])
    k = make_client("kinesis", d.endpoint)
    name = create(k, shards=2)
    load = Producers(d.endpoint, name, threads=3)
    wait_until(lambda: load.count() > 2000, timeout=30, message="records acknowledged")
    d._kill()
    d.proc = None
    load.stop()
    d.start()
    k = make_client("kinesis", d.endpoint)
    stored = {}
    for sid in ("shardId-000000000000", "shardId-000000000001"):
        stored[sid] = [(int(r["SequenceNumber"]), r["Data"]) for r in read_all(k, name, sid)]
        seqs = [s for s, _ in stored[sid]]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for (sid, seq), data in load.acked.items():
        assert (seq, data) in set(stored[sid]) or pytest.fail(f"acknowledged record {sid} {seq} {data} lost")
    # and the stream takes new records after the last one stored
    r = k.put_record(StreamName=name, Data=b"after", PartitionKey="x")
    assert int(r["SequenceNumber"]) > max(s for s, _ in stored[r["ShardId"]])


def test_keys_with_escapes_and_unicode_round_trip(kinesis, raw):
    # botocore escapes non-ASCII as \uXXXX: such bodies take the general (jansson) path, plain
    # ones the fast scanner; both must store the same thing, and answers must escape it back.
    name = create(kinesis, shards=2)
    odd = 'ключ "q" \\ tab\t/\u2028'
    kinesis.put_record(StreamName=name, Data=b"a", PartitionKey=odd)
    kinesis.put_records(StreamName=name, Records=[{"Data": b"b", "PartitionKey": odd}, {"Data": b"c", "PartitionKey": "plain"}])
    raw_body = '{"StreamName":"%s","Records":[{"Data":"ZA==","PartitionKey":"plain"}]}' % name
    r = raw.signed("POST", "/", body=raw_body.encode(), service="kinesis",
                   extra_headers={"X-Amz-Target": "Kinesis_20131202.PutRecords",
                                  "Content-Type": "application/x-amz-json-1.1"})
    assert r.status == 200 and r.json()["FailedRecordCount"] == 0
    got = {}
    for s in kinesis.list_shards(StreamName=name)["Shards"]:
        for rec in read_all(kinesis, name, s["ShardId"]):
            got.setdefault(rec["PartitionKey"], []).append(rec["Data"])
    assert got == {odd: [b"a", b"b"], "plain": [b"c", b"d"]}
    # a malformed body still gets the AWS error, not a scanner failure
    r = raw.signed("POST", "/", body=b'{"StreamName":"x","Records":[{"Data":"ZA==",}]}', service="kinesis",
                   extra_headers={"X-Amz-Target": "Kinesis_20131202.PutRecords",
                                  "Content-Type": "application/x-amz-json-1.1"})
    assert r.status == 400 and r.json()["__type"] == "SerializationException"
