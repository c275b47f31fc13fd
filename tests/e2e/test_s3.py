"""Issue 6: the object store through S3's wire API — the AWS CLI (`aws s3`, `aws s3api`), boto3,
curl with presigned URLs and hand-built aws-chunked bodies; notifications that invoke functions
with S3's event; functions that read objects with their own credentials; crash safety."""

import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import socket
import subprocess
import threading
import time
import urllib.parse
import zlib

import botocore
import pytest

from e2e_util import ACCESS_KEY, ACCOUNT, REGION, SECRET_KEY, make_client, unique_name, wait_until


def bucket_name():
    return unique_name("bkt").lower().replace("_", "-")


@pytest.fixture
def bucket(s3):
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    return name


def err(excinfo):
    e = excinfo.value.response
    return e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Code"], e["Error"].get("Message", "")


def md5_etag(data):
    return '"' + hashlib.md5(data).hexdigest() + '"'


# ---- the AWS CLI ----------------------------------------------------------------------------


def test_cli_mb_cp_ls_sync_rm_rb_with_a_100mb_multipart_upload(aws, tmp_path):
    name = bucket_name()
    out = aws.run("s3", "mb", f"s3://{name}")
    assert out.returncode == 0, out.stderr
    assert f"make_bucket: {name}" in out.stdout
    small = tmp_path / "small.txt"
    small.write_text("hello, object store\n")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1 << 20) * 100)  # 100 MiB: the CLI uploads it in 8 MiB parts
    for f in (small, big):
        out = aws.run("s3", "cp", str(f), f"s3://{name}/in/{f.name}")
        assert out.returncode == 0, out.stderr
    head = aws("s3api", "head-object", "--bucket", name, "--key", "in/big.bin")
    assert head["ContentLength"] == 100 << 20
    parts = -(-(100 << 20) // (8 << 20))
    assert head["ETag"].endswith(f'-{parts}"'), head["ETag"]
    # the multipart ETag as S3 computes it: MD5 of the parts' MD5s
    data = big.read_bytes()
    digests = b"".join(hashlib.md5(data[i : i + (8 << 20)]).digest() for i in range(0, len(data), 8 << 20))
    assert head["ETag"] == f'"{hashlib.md5(digests).hexdigest()}-{parts}"'
    back = tmp_path / "back.bin"
    out = aws.run("s3", "cp", f"s3://{name}/in/big.bin", str(back))
    assert out.returncode == 0, out.stderr
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(data).digest()
    ls = aws.run("s3", "ls", f"s3://{name}/in/")
    assert "small.txt" in ls.stdout and "big.bin" in ls.stdout and str(100 << 20) in ls.stdout

    tree = tmp_path / "tree"
    for rel in ("a.txt", "sub/b.txt", "sub/deeper/c with space.txt", "ünï.txt"):
        p = tree / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(rel * 10)
    out = aws.run("s3", "sync", str(tree), f"s3://{name}/tree/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("upload:") == 4
    again = aws.run("s3", "sync", str(tree), f"s3://{name}/tree/")
    assert again.returncode == 0 and "upload:" not in again.stdout, "a second sync uploads nothing"
    listing = aws("s3api", "list-objects-v2", "--bucket", name, "--prefix", "tree/")
    assert sorted(o["Key"] for o in listing["Contents"]) == sorted(
        f"tree/{r}" for r in ("a.txt", "sub/b.txt", "sub/deeper/c with space.txt", "ünï.txt")
    )
    down = tmp_path / "down"
    out = aws.run("s3", "sync", f"s3://{name}/tree/", str(down))
    assert out.returncode == 0, out.stderr
    assert (down / "sub/deeper/c with space.txt").read_text() == "sub/deeper/c with space.txt" * 10

    out = aws.run("s3", "rb", f"s3://{name}")
    assert out.returncode != 0 and "BucketNotEmpty" in out.stderr
    out = aws.run("s3", "rm", "--recursive", f"s3://{name}/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("delete:") == 6
    out = aws.run("s3", "rb", f"s3://{name}")
    assert out.returncode == 0, out.stderr
    out = aws.run("s3", "ls", f"s3://{name}")
    assert out.returncode != 0 and "NoSuchBucket" in out.stderr


# ---- objects through boto3 ------------------------------------------------------------------


def test_put_get_head_delete_with_metadata_and_content_type(s3, bucket):
    body = b"x" * 1000
    put = s3.put_object(Bucket=bucket, Key="dir/obj.txt", Body=body, ContentType="text/plain",
                        Metadata={"Owner": "pricing", "run": "7"})
    assert put["ETag"] == md5_etag(body)
    head = s3.head_object(Bucket=bucket, Key="dir/obj.txt")
    assert head["ContentLength"] == 1000 and head["ContentType"] == "text/plain"
    assert head["Metadata"] == {"owner": "pricing", "run": "7"}
    assert head["ETag"] == md5_etag(body)
    assert isinstance(head["LastModified"], datetime.datetime)
    got = s3.get_object(Bucket=bucket, Key="dir/obj.txt")
    assert got["Body"].read() == body and got["AcceptRanges"] == "bytes"
    # an empty object, a key with a trailing slash (a "folder"), replacement
    s3.put_object(Bucket=bucket, Key="folder/", Body=b"")
    assert s3.get_object(Bucket=bucket, Key="folder/")["Body"].read() == b""
    s3.put_object(Bucket=bucket, Key="dir/obj.txt", Body=b"new")
    assert s3.get_object(Bucket=bucket, Key="dir/obj.txt")["Body"].read() == b"new"
    s3.delete_object(Bucket=bucket, Key="dir/obj.txt")
    s3.delete_object(Bucket=bucket, Key="dir/obj.txt")  # deleting what is not there succeeds
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="dir/obj.txt")
    assert err(e)[:2] == (404, "NoSuchKey")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=bucket, Key="dir/obj.txt")
    assert err(e)[0] == 404


def test_ranged_gets(s3, bucket):
    body = bytes(range(256)) * 1024  # 256 KiB: read from disk in pieces
    s3.put_object(Bucket=bucket, Key="r", Body=body)
    for rng, want in (("bytes=0-9", body[:10]), ("bytes=100-", body[100:]), ("bytes=-5", body[-5:]),
                      ("bytes=262000-999999", body[262000:]), ("bytes=70000-200000", body[70000:200001])):
        got = s3.get_object(Bucket=bucket, Key="r", Range=rng)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["Body"].read() == want, rng
        first = len(body) - len(body[-5:]) if rng == "bytes=-5" else int(rng[6:].split("-")[0])
        assert got["ContentRange"] == f"bytes {first}-{first + len(want) - 1}/{len(body)}"
    assert s3.get_object(Bucket=bucket, Key="r")["Body"].read() == body
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range=f"bytes={len(body)}-")
    assert err(e)[:2] == (416, "InvalidRange")


def test_conditional_gets(s3, bucket):
    s3.put_object(Bucket=bucket, Key="c", Body=b"abc")
    etag = md5_etag(b"abc")
    modified = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"abc"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0000"')
    assert err(e)[:2] == (412, "PreconditionFailed")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert err(e)[0] == 304
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=modified + datetime.timedelta(seconds=5))
    assert err(e)[0] == 304
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=modified - datetime.timedelta(days=1))["Body"].read()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=modified - datetime.timedelta(days=1))
    assert err(e)[:2] == (412, "PreconditionFailed")


def test_list_objects_v2_pages_by_prefix_and_delimiter_with_odd_keys(s3, bucket):
    keys = [f"p/{i:03d}" for i in range(25)] + ["p/sub/x", "p/sub/y", "q/1", "a b+c&d<e>", "ключ/ü"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    seen = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 7}):
        assert page["KeyCount"] <= 7
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert seen == sorted(keys, key=lambda k: k.encode()), "every key once, in byte order"
    page = s3.list_objects_v2(Bucket=bucket, Prefix="p/", Delimiter="/")
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["p/sub/"]
    assert len(page["Contents"]) == 25 and page["Contents"][0]["Size"] == 5
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["p/", "q/", "ключ/"]
    assert [o["Key"] for o in top["Contents"]] == ["a b+c&d<e>"]
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="p/020", Prefix="p/")
    assert [o["Key"] for o in after["Contents"]][:5] == ["p/021", "p/022", "p/023", "p/024", "p/sub/x"]
    v1 = s3.list_objects(Bucket=bucket, Prefix="q/")
    assert [o["Key"] for o in v1["Contents"]] == ["q/1"]
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket in buckets


def test_delete_objects_and_copy_object(s3, bucket):
    for k in ("d1", "d2", "d3"):
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode(), Metadata={"k": k})
    res = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d1"}, {"Key": "d2"}, {"Key": "never"}]})
    assert sorted(d["Key"] for d in res["Deleted"]) == ["d1", "d2", "never"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["d3"]
    other = bucket_name()
    s3.create_bucket(Bucket=other)
    cp = s3.copy_object(Bucket=other, Key="copy of d3", CopySource={"Bucket": bucket, "Key": "d3"})
    assert cp["CopyObjectResult"]["ETag"] == md5_etag(b"d3")
    head = s3.head_object(Bucket=other, Key="copy of d3")
    assert head["Metadata"] == {"k": "d3"}
    s3.copy_object(Bucket=other, Key="copy of d3", CopySource=f"{bucket}/d3", MetadataDirective="REPLACE",
                   Metadata={"new": "yes"}, ContentType="text/csv")
    head = s3.head_object(Bucket=other, Key="copy of d3")
    assert head["Metadata"] == {"new": "yes"} and head["ContentType"] == "text/csv"
    assert s3.get_object(Bucket=other, Key="copy of d3")["Body"].read() == b"d3"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="d3", CopySource=f"{bucket}/d3")
    assert err(e)[:2] == (400, "InvalidRequest")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="x", CopySource=f"{bucket}/missing")
    assert err(e)[:2] == (404, "NoSuchKey")


def test_multipart_upload_api_and_its_errors(s3, bucket):
    part = os.urandom(5 << 20)
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ContentType="application/x-test",
                                    Metadata={"m": "1"})["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1, Body=part)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=2, Body=b"tail")["ETag"]
    assert e1 == md5_etag(part)
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=up)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed["Parts"]] == [(1, 5 << 20, e1), (2, 4, e2)]
    assert up in [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
    assert err(e)[:2] == (400, "InvalidPartOrder")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": '"ffff"'}]})
    assert err(e)[:2] == (400, "InvalidPart")
    e3 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=3, Body=b"x")["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as e:  # part 2 (4 bytes) is not the last
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 3, "ETag": e3}]})
    assert err(e)[:2] == (400, "EntityTooSmall")
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    want = hashlib.md5(hashlib.md5(part).digest() + hashlib.md5(b"tail").digest()).hexdigest()
    assert done["ETag"] == f'"{want}-2"'
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == part + b"tail"
    assert got["ContentType"] == "application/x-test" and got["Metadata"] == {"m": "1"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1, Body=b"late")
    assert err(e)[:2] == (404, "NoSuchUpload")
    up2 = s3.create_multipart_upload(Bucket=bucket, Key="ab")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="ab", UploadId=up2, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="ab", UploadId=up2)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="ab", UploadId=up2)
    assert err(e)[:2] == (404, "NoSuchUpload")


# ---- signatures: presigned URLs, payload hashes, aws-chunked ---------------------------------


def curl(*args):
    return subprocess.run(["curl", "-sS", "--noproxy", "*", *args], capture_output=True, timeout=60)


@pytest.mark.parametrize("version", ["s3", "s3v4"])
def test_presigned_urls_work_with_curl_and_expire(daemon, s3, bucket, tmp_path, version):
    """Both forms: SigV2 (AWSAccessKeyId/Expires/Signature, what Debian's boto3 presigns by
    default) and SigV4 (X-Amz-Credential/..., what the AWS CLI's `s3 presign` and newer SDKs make)."""
    signer = make_client_signing(daemon.endpoint, version)
    s3.put_object(Bucket=bucket, Key="shared file.txt", Body=b"presigned body")
    url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared file.txt"}, ExpiresIn=60)
    assert ("X-Amz-Credential=" in url) == (version == "s3v4"), url
    out = curl("-w", "\n%{http_code}", url)
    assert out.stdout == b"presigned body\n200"
    tampered = url.replace("shared%20file.txt", "other.txt")
    out = curl("-w", "\n%{http_code}", tampered)
    assert out.stdout.endswith(b"403") and b"<Code>SignatureDoesNotMatch</Code>" in out.stdout
    short = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared file.txt"}, ExpiresIn=1)
    time.sleep(2.2)
    out = curl("-w", "\n%{http_code}", short)
    assert out.stdout.endswith(b"403") and b"<Code>AccessDenied</Code>" in out.stdout
    assert b"Request has expired" in out.stdout
    put_url = signer.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up.bin"}, ExpiresIn=60)
    src = tmp_path / "up.bin"
    src.write_bytes(os.urandom(3 << 20))
    out = curl("-w", "%{http_code}", "-T", str(src), put_url)
    assert out.stdout.endswith(b"200"), out
    assert s3.get_object(Bucket=bucket, Key="up.bin")["Body"].read() == src.read_bytes()


def make_client_signing(endpoint, version):
    import boto3

    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        config=botocore.config.Config(signature_version=version, retries={"total_max_attempts": 1}))


def force_trailer_checksum(params, context, **kw):
    """botocore 1.29 sends flexible checksums as aws-chunked trailers only over https; this makes
    it do so over http too (what newer botocore and the AWS CLI send by default)."""
    alg = context.get("checksum", {}).get("request_algorithm")
    if isinstance(alg, dict):
        alg["in"] = "trailer"


def test_aws_chunked_upload_from_boto3_with_a_crc32_trailer(daemon, bucket):
    s3 = make_client("s3", daemon.endpoint)
    sent = []
    s3.meta.events.register("before-call.s3.PutObject", force_trailer_checksum)
    s3.meta.events.register("before-send.s3.PutObject", lambda request, **kw: sent.append(dict(request.headers)))
    body = os.urandom((3 << 20) + 123)
    put = s3.put_object(Bucket=bucket, Key="chunked", Body=body, ChecksumAlgorithm="CRC32")
    h = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in sent[-1].items()}
    assert h["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert h["content-encoding"] == "aws-chunked" and h["x-amz-trailer"] == "x-amz-checksum-crc32"
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    assert put["ChecksumCRC32"] == crc
    assert put["ETag"] == md5_etag(body)
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == body
    # a header checksum that does not match the bytes
    s3b = make_client("s3", daemon.endpoint)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3b.put_object(Bucket=bucket, Key="bad", Body=b"abc", ChecksumCRC32=base64.b64encode(b"\0\0\0\0").decode())
    assert err(e)[:2] == (400, "BadDigest")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3b.head_object(Bucket=bucket, Key="bad")
    assert err(e)[0] == 404, "a refused upload leaves no object"


def _key(secret, date, region="us-east-1"):
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def signed_chunked_put(port, bucket, key, chunks, tamper=None):
    """PUT with STREAMING-AWS4-HMAC-SHA256-PAYLOAD, as the Java SDK and MinIO clients send it:
    every chunk signed, chained from the request's signature."""
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, date = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{date}/{REGION}/s3/aws4_request"
    total = sum(len(c) for c in chunks)
    sigs = [None]
    frames = []
    body_len = 0
    # sizes first (Content-Length covers the framing)
    for c in chunks + [b""]:
        body_len += len(f"{len(c):x};chunk-signature=") + 64 + 2 + len(c) + 2
    path = f"/{bucket}/{urllib.parse.quote(key)}"
    headers = {
        "host": f"127.0.0.1:{port}",
        "x-amz-date": amz_date,
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(total),
        "content-length": str(body_len),
    }
    signed = sorted(headers)
    canonical = "\n".join(["PUT", path, "", "".join(f"{k}:{headers[k]}\n" for k in signed), ";".join(signed),
                           "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"])
    key_ = _key(SECRET_KEY, date)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    seed = hmac.new(key_, sts.encode(), hashlib.sha256).hexdigest()
    prev = seed
    empty = hashlib.sha256(b"").hexdigest()
    for i, c in enumerate(chunks + [b""]):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, empty, hashlib.sha256(c).hexdigest()])
        sig = hmac.new(key_, sts.encode(), hashlib.sha256).hexdigest()
        prev = sig
        data = c
        if tamper == i and c:
            data = bytes([c[0] ^ 1]) + c[1:]
        frames.append(f"{len(c):x};chunk-signature={sig}\r\n".encode() + data + b"\r\n")
    headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, "
                                f"SignedHeaders={';'.join(signed)}, Signature={seed}")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("PUT", path, skip_host=True, skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.endheaders()
    for f in frames:
        conn.send(f)
    resp = conn.getresponse()
    out = resp.status, resp.read()
    conn.close()
    return out


def test_signed_aws_chunked_upload_verifies_every_chunk(daemon, s3, bucket):
    chunks = [os.urandom(64 << 10), os.urandom(64 << 10), os.urandom(1000)]
    status, body = signed_chunked_put(daemon.port, bucket, "signed chunks", chunks)
    assert status == 200, body
    assert s3.get_object(Bucket=bucket, Key="signed chunks")["Body"].read() == b"".join(chunks)
    status, body = signed_chunked_put(daemon.port, bucket, "tampered", chunks, tamper=1)
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body, body
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=bucket, Key="tampered")
    assert err(e)[0] == 404


def test_errors_in_s3s_shape(daemon, s3, bucket, raw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="no-such-bucket-here", Key="k")
    assert err(e)[:2] == (404, "NoSuchBucket")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket=bucket)
    assert err(e)[:2] == (409, "BucketAlreadyOwnedByYou")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        make_client("s3", daemon.endpoint, validate=False).create_bucket(Bucket="Bad_Name")
    assert err(e)[:2] == (400, "InvalidBucketName")
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.delete_bucket(Bucket=bucket)
    assert err(e)[:2] == (409, "BucketNotEmpty")
    wrong = make_client("s3", daemon.endpoint, secret_key="not-the-secret")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        wrong.get_object(Bucket=bucket, Key="k")
    assert err(e)[:2] == (403, "SignatureDoesNotMatch")
    unknown = make_client("s3", daemon.endpoint, access_key="AKIDNOBODY")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unknown.get_object(Bucket=bucket, Key="k")
    assert err(e)[:2] == (403, "InvalidAccessKeyId")
    # payload hash that does not match the body (signed for one body, another sent)
    r = raw.signed("PUT", f"/{bucket}/h", body=b"one", service="s3", send_body=b"two",
                   extra_headers={"x-amz-content-sha256": hashlib.sha256(b"one").hexdigest()})
    assert r.status == 400 and b"<Code>XAmzContentSHA256Mismatch</Code>" in r.body
    r = raw.signed("PUT", f"/{bucket}/m", body=b"abc", service="s3",
                   extra_headers={"x-amz-content-sha256": hashlib.sha256(b"abc").hexdigest(),
                                  "content-md5": base64.b64encode(hashlib.md5(b"xyz").digest()).decode()})
    assert r.status == 400 and b"<Code>BadDigest</Code>" in r.body
    r = raw.signed("GET", f"/{bucket}/k", service="s3", query="acl=",
                   extra_headers={"x-amz-content-sha256": hashlib.sha256(b"").hexdigest()})
    assert r.status == 501 and b"<Code>NotImplemented</Code>" in r.body
    assert r.headers["content-type"] == "application/xml" and "x-amz-request-id" in r.headers
    # too large for one PUT: refused before the body is sent
    sock = socket.create_connection(("127.0.0.1", daemon.port))
    h = raw_signed_head("PUT", f"/{bucket}/huge", daemon.port, {"content-length": str(6 << 30), "expect": "100-continue",
                                                                 "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    sock.sendall(h)
    resp = sock.recv(65536)
    sock.close()
    assert resp.startswith(b"HTTP/1.1 400") and b"<Code>EntityTooLarge</Code>" in resp, resp
    r = raw.send("GET", f"/{bucket}/k", headers={"Host": f"{bucket}.s3.localhost"})
    assert r.status == 403 and b"<Code>AccessDenied</Code>" in r.body, "anonymous requests are refused"


def raw_signed_head(method, path, port, extra):
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, date = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers = {"host": f"127.0.0.1:{port}", "x-amz-date": amz_date, **extra}
    signed = sorted(k for k in headers if k not in ("expect", "content-length"))
    canonical = "\n".join([method, path, "", "".join(f"{k}:{headers[k]}\n" for k in signed), ";".join(signed),
                           headers["x-amz-content-sha256"]])
    scope = f"{date}/{REGION}/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    sig = hmac.new(_key(SECRET_KEY, date), sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, SignedHeaders={';'.join(signed)}, Signature={sig}"
    return (f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()


def test_virtual_host_addressing(daemon, bucket, monkeypatch):
    """boto3 addressing the bucket as <bucket>.s3.localhost:<port> (resolved to 127.0.0.1 here:
    glibc does not resolve *.localhost names)."""
    import boto3

    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo",
                        lambda host, *a, **kw: real("127.0.0.1" if str(host).endswith("localhost") else host, *a, **kw))
    s3v = boto3.session.Session().client(
        "s3", endpoint_url=f"http://s3.localhost:{daemon.port}", region_name=REGION, aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=botocore.config.Config(s3={"addressing_style": "virtual"}, retries={"total_max_attempts": 1}))
    urls = []
    s3v.meta.events.register("before-send.s3", lambda request, **kw: urls.append(request.url))
    s3v.put_object(Bucket=bucket, Key="vh.txt", Body=b"virtual")
    assert s3v.get_object(Bucket=bucket, Key="vh.txt")["Body"].read() == b"virtual"
    assert urls and all(u.startswith(f"http://{bucket}.s3.localhost:") for u in urls), urls


# ---- notifications -----------------------------------------------------------------------------

RECORD_EVENT = r"""record "event" < "$W/event"
printf '{}' | respond"""


def test_notifications_invoke_the_function_with_s3s_event(daemon, s3, functions, recorder, lam):
    fn = functions.shell(RECORD_EVENT, env=recorder.env)
    arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    b = bucket_name()
    s3.create_bucket(Bucket=b)
    s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={"LambdaFunctionConfigurations": [{
        "Id": "prices", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}, {"Name": "suffix", "Value": ".txt"}]}},
    }]})
    got = s3.get_bucket_notification_configuration(Bucket=b)["LambdaFunctionConfigurations"]
    assert got[0]["Id"] == "prices" and got[0]["LambdaFunctionArn"] == arn
    assert sorted(r["Name"].lower() for r in got[0]["Filter"]["Key"]["FilterRules"]) == ["prefix", "suffix"]
    s3.put_object(Bucket=b, Key="out/skip.txt", Body=b"no")       # prefix does not match
    s3.put_object(Bucket=b, Key="in/skip.csv", Body=b"no")        # suffix does not match
    put = s3.put_object(Bucket=b, Key="in/price list.txt", Body=b"1 2 3\n")
    rec = recorder.wait("event", timeout=20)["event"].json()
    assert len(rec["Records"]) == 1
    r = rec["Records"][0]
    # field by field against AWS's documented example (notification-content-structure.html)
    assert r["eventVersion"] == "2.1" and r["eventSource"] == "aws:s3" and r["awsRegion"] == REGION
    assert r["eventName"] == "ObjectCreated:Put"
    assert datetime.datetime.strptime(r["eventTime"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert r["userIdentity"]["principalId"] == f"AWS:{ACCESS_KEY}"
    assert r["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
    assert r["responseElements"]["x-amz-request-id"] == put["ResponseMetadata"]["RequestId"]
    assert set(r["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}
    s = r["s3"]
    assert s["s3SchemaVersion"] == "1.0" and s["configurationId"] == "prices"
    assert s["bucket"] == {"name": b, "ownerIdentity": {"principalId": ACCOUNT}, "arn": f"arn:aws:s3:::{b}"}
    assert s["object"]["key"] == "in/price+list.txt", "keys are URL-encoded as S3 does"
    assert s["object"]["size"] == 6 and s["object"]["eTag"] == hashlib.md5(b"1 2 3\n").hexdigest()
    first_seq = s["object"]["sequencer"]
    assert all(c in "0123456789ABCDEF" for c in first_seq)
    time.sleep(0.5)
    assert len(recorder.records) == 1, "the filtered-out uploads fired nothing"
    s3.delete_object(Bucket=b, Key="in/price list.txt")
    wait_until(lambda: len(recorder.records) == 2, timeout=20, message="the delete's event")
    r2 = recorder.records[1].json()["Records"][0]
    assert r2["eventName"] == "ObjectRemoved:Delete" and "size" not in r2["s3"]["object"]
    assert r2["s3"]["object"]["sequencer"] > first_seq
    # multipart and copy events
    up = s3.create_multipart_upload(Bucket=b, Key="in/mp.txt")["UploadId"]
    e1 = s3.upload_part(Bucket=b, Key="in/mp.txt", UploadId=up, PartNumber=1, Body=b"x")["ETag"]
    s3.complete_multipart_upload(Bucket=b, Key="in/mp.txt", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
    s3.copy_object(Bucket=b, Key="in/copy.txt", CopySource={"Bucket": b, "Key": "in/mp.txt"})
    wait_until(lambda: len(recorder.records) == 4, timeout=20, message="multipart and copy events")
    names = sorted(rr.json()["Records"][0]["eventName"] for rr in recorder.records[2:])
    assert names == ["ObjectCreated:CompleteMultipartUpload", "ObjectCreated:Copy"]
    # a configuration naming a function that does not exist is refused
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={"LambdaFunctionConfigurations": [{
            "LambdaFunctionArn": arn + "-gone", "Events": ["s3:ObjectCreated:*"]}]})
    assert err(e)[:2] == (400, "InvalidArgument")


STREAM_OBJECT = r"""bucket=$(jget name); key=$(jget key)
curl -sS --noproxy '*' -f --aws-sigv4 "aws:amz:${AWS_REGION}:s3" -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
  -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$AWS_ENDPOINT_URL_S3/$bucket/$key" | sha256sum | cut -d' ' -f1 | record sha
printf '{}' | respond"""


def test_an_upload_fires_a_function_that_streams_the_object_with_its_own_credentials(s3, functions, recorder, lam):
    fn = functions.shell(STREAM_OBJECT, env=recorder.env, timeout=30)
    arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    b = bucket_name()
    s3.create_bucket(Bucket=b)
    s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={"LambdaFunctionConfigurations": [{
        "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:Put"]}]})
    data = os.urandom(20 << 20)
    s3.put_object(Bucket=b, Key="params.txt", Body=data)
    sha = recorder.wait("sha", timeout=30)["sha"].text.strip()
    assert sha == hashlib.sha256(data).hexdigest()


# ---- durability and concurrency ---------------------------------------------------------------


def test_a_crash_mid_upload_leaves_no_torn_object(daemon_factory):
    d = daemon_factory()
    s3 = make_client("s3", d.endpoint)
    s3.create_bucket(Bucket="crash")
    s3.put_object(Bucket="crash", Key="k", Body=b"old version")
    sock = socket.create_connection(("127.0.0.1", d.port))
    sock.sendall(raw_signed_head("PUT", "/crash/k", d.port, {"content-length": str(50 << 20),
                                                           "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}))
    for _ in range(10):
        sock.sendall(os.urandom(1 << 20))
    time.sleep(0.3)
    d._kill()
    sock.close()
    d.start()
    s3 = make_client("s3", d.endpoint)
    assert s3.get_object(Bucket="crash", Key="k")["Body"].read() == b"old version"
    tmp = os.path.join(d.data_dir, "objects", ".tmp")
    assert os.listdir(tmp) == [], "the interrupted upload's temporary file is gone"


def test_two_concurrent_uploads_of_one_key_leave_one_of_them_whole(s3, bucket):
    bodies = [os.urandom(24 << 20), os.urandom(24 << 20)]
    errors = []

    def put(b):
        try:
            make_client("s3", s3.meta.endpoint_url).put_object(Bucket=bucket, Key="same", Body=b)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=put, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    got = s3.get_object(Bucket=bucket, Key="same")
    data = got["Body"].read()
    assert data in bodies and got["ETag"] == md5_etag(data)


def test_a_large_upload_keeps_the_daemons_memory_flat(daemon, s3, bucket):
    """1 GiB streamed through the daemon: its peak RSS grows by a few MiB, not by the object."""
    def hwm():
        with open(f"/proc/{daemon.proc.pid}/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) * 1024

    s3.put_object(Bucket=bucket, Key="warmup", Body=os.urandom(16 << 20))
    before = hwm()
    size = 1 << 30
    block = os.urandom(1 << 20)
    sock = socket.create_connection(("127.0.0.1", daemon.port))
    sock.sendall(raw_signed_head("PUT", f"/{bucket}/big", daemon.port, {"content-length": str(size),
                                                                      "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}))
    for _ in range(size >> 20):
        sock.sendall(block)
    resp = sock.recv(65536)
    sock.close()
    assert resp.startswith(b"HTTP/1.1 200"), resp
    grown = hwm() - before
    assert grown < 64 << 20, f"peak RSS grew by {grown >> 20} MiB for a 1 GiB upload"
    head = s3.head_object(Bucket=bucket, Key="big")
    assert head["ContentLength"] == size
    s3.delete_object(Bucket=bucket, Key="big")


def fnv1a(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def test_the_runtime_library_streams_an_object_in_pieces(s3, bucket, functions, lam):
    """ll_s3_get_stream (the C runtime library) with the function's own credentials and
    AWS_ENDPOINT_URL_S3: a 3 MiB object arrives whole, in pieces of at most 64 KiB."""
    fn = functions.echo(timeout=30)
    data = os.urandom(3 << 20)
    s3.put_object(Bucket=bucket, Key="dir/for c.bin", Body=data)
    out = lam.invoke(FunctionName=fn, Payload=json.dumps({"action": "s3get", "bucket": bucket, "key": "dir/for c.bin"}))
    got = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, got
    assert got["bytes"] == len(data) and got["largest"] <= 64 << 10 and got["pieces"] >= 48
    assert got["fnv1a"] == fnv1a(data)
    out = lam.invoke(FunctionName=fn, Payload=json.dumps({"action": "s3get", "bucket": bucket, "key": "missing"}))
    assert out.get("FunctionError") == "Unhandled"
    e = json.loads(out["Payload"].read())
    assert e["errorType"] == "S3Error" and "404 NoSuchKey" in e["errorMessage"]
