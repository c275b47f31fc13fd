"""Issue 7: tables through DynamoDB's wire API (JSON 1.0) with boto3 and the AWS CLI: tables,
items, every expression form, numbers and binary keys in DynamoDB's order, pagination,
conditional writes, transactions, batches, functions writing concurrently, restart."""

import base64
import decimal
import json
import threading

import botocore
import pytest

from e2e_util import make_client, unique_name


@pytest.fixture
def ddb(daemon):
    daemon.check_alive()
    return make_client("dynamodb", daemon.endpoint)


def err(excinfo):
    e = excinfo.value.response
    return e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Code"], e["Error"].get("Message", "")


def table(ddb, range_type=None, hash_type="S", name=None):
    name = name or unique_name("tbl")
    ks = [{"AttributeName": "pk", "KeyType": "HASH"}]
    ad = [{"AttributeName": "pk", "AttributeType": hash_type}]
    if range_type:
        ks.append({"AttributeName": "sk", "KeyType": "RANGE"})
        ad.append({"AttributeName": "sk", "AttributeType": range_type})
    out = ddb.create_table(TableName=name, KeySchema=ks, AttributeDefinitions=ad, BillingMode="PAY_PER_REQUEST")
    assert out["TableDescription"]["TableStatus"] == "ACTIVE"
    return name


def test_tables_create_describe_list_update_delete(ddb):
    name = unique_name("tbl")
    out = ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "ts", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}, {"AttributeName": "ts", "AttributeType": "N"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 7},
    )["TableDescription"]
    assert out["TableName"] == name and out["ItemCount"] == 0
    assert out["TableArn"].endswith(f":table/{name}")
    assert out["ProvisionedThroughput"]["WriteCapacityUnits"] == 7
    ddb.get_waiter("table_exists").wait(TableName=name)
    d = ddb.describe_table(TableName=name)["Table"]
    assert d["KeySchema"][1] == {"AttributeName": "ts", "KeyType": "RANGE"}
    assert name in ddb.list_tables()["TableNames"]
    up = ddb.update_table(TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 10, "WriteCapacityUnits": 10})
    assert up["TableDescription"]["ProvisionedThroughput"]["ReadCapacityUnits"] == 10
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    assert err(e)[:2] == (400, "ResourceInUseException")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.create_table(TableName=unique_name("tbl"), KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"},
                                               {"AttributeName": "x", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
    assert err(e)[:2] == (400, "ValidationException")
    ddb.delete_table(TableName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.describe_table(TableName=name)
    assert err(e)[:2] == (400, "ResourceNotFoundException")


def test_put_get_delete_with_conditions_and_return_values(ddb):
    t = table(ddb)
    item = {"pk": {"S": "a"}, "n": {"N": "1.50"}, "b": {"B": b"\x00\x01"}, "ok": {"BOOL": True}, "none": {"NULL": True},
            "m": {"M": {"x": {"L": [{"S": "y"}, {"N": "2"}]}}}, "ss": {"SS": ["q", "p"]}, "ns": {"NS": ["1", "2"]},
            "bs": {"BS": [b"a"]}, "empty": {"S": ""}}
    ddb.put_item(TableName=t, Item=item)
    got = ddb.get_item(TableName=t, Key={"pk": {"S": "a"}})["Item"]
    assert got["n"] == {"N": "1.5"}, "numbers come back normalized"
    assert got["b"] == {"B": b"\x00\x01"} and got["m"]["M"]["x"]["L"][1] == {"N": "2"}
    assert sorted(got["ss"]["SS"]) == ["p", "q"] and got["empty"] == {"S": ""}
    proj = ddb.get_item(TableName=t, Key={"pk": {"S": "a"}}, ProjectionExpression="#m.x[0], ok",
                        ExpressionAttributeNames={"#m": "m"})["Item"]
    assert proj == {"m": {"M": {"x": {"L": [{"S": "y"}]}}}, "ok": {"BOOL": True}}
    assert "Item" not in ddb.get_item(TableName=t, Key={"pk": {"S": "missing"}})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.put_item(TableName=t, Item={"pk": {"S": "a"}}, ConditionExpression="attribute_not_exists(pk)")
    assert err(e)[:2] == (400, "ConditionalCheckFailedException")
    old = ddb.put_item(TableName=t, Item={"pk": {"S": "a"}, "v": {"N": "2"}}, ReturnValues="ALL_OLD",
                       ConditionExpression="n = :n AND begins_with(m.x[0], :y)",
                       ExpressionAttributeValues={":n": {"N": "1.5"}, ":y": {"S": "y"}})["Attributes"]
    assert old["ok"] == {"BOOL": True}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.delete_item(TableName=t, Key={"pk": {"S": "a"}}, ConditionExpression="v > :three",
                        ExpressionAttributeValues={":three": {"N": "3"}})
    assert err(e)[:2] == (400, "ConditionalCheckFailedException")
    gone = ddb.delete_item(TableName=t, Key={"pk": {"S": "a"}}, ReturnValues="ALL_OLD")["Attributes"]
    assert gone == {"pk": {"S": "a"}, "v": {"N": "2"}}
    # validation errors in DynamoDB's shape
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.put_item(TableName=t, Item={"pk": {"N": "1"}})
    assert err(e)[:2] == (400, "ValidationException") and "Type mismatch" in err(e)[2]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.put_item(TableName=t, Item={"pk": {"S": "x"}, "big": {"S": "x" * (400 * 1024)}})
    assert err(e)[:2] == (400, "ValidationException") and "Item size" in err(e)[2]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.put_item(TableName=t, Item={"pk": {"S": "x"}}, ConditionExpression="a = :unused_not_defined")
    assert err(e)[:2] == (400, "ValidationException")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.get_item(TableName="no-such-table", Key={"pk": {"S": "x"}})
    assert err(e)[:2] == (400, "ResourceNotFoundException")


def test_update_item_every_action(ddb):
    t = table(ddb)
    out = ddb.update_item(TableName=t, Key={"pk": {"S": "u"}}, ReturnValues="ALL_NEW",
                          UpdateExpression="SET c = :one, l = :l, m = :m ADD s :s",
                          ExpressionAttributeValues={":one": {"N": "1"}, ":l": {"L": [{"N": "1"}]},
                                                     ":m": {"M": {"a": {"S": "b"}}}, ":s": {"SS": ["x", "y"]}})
    assert out["Attributes"]["pk"] == {"S": "u"} and out["Attributes"]["c"] == {"N": "1"}
    out = ddb.update_item(TableName=t, Key={"pk": {"S": "u"}}, ReturnValues="UPDATED_NEW",
                          UpdateExpression="SET c = c + :one, l = list_append(l, :more), m.z = if_not_exists(m.z, :zero) "
                                           "REMOVE m.a DELETE s :x ADD n :big",
                          ExpressionAttributeValues={":one": {"N": "1"}, ":more": {"L": [{"N": "2"}]}, ":zero": {"N": "0"},
                                                     ":x": {"SS": ["x"]}, ":big": {"N": "12345678901234567890123456789012345678"}})
    a = out["Attributes"]
    assert a["c"] == {"N": "2"} and a["l"] == {"L": [{"N": "1"}, {"N": "2"}]}
    assert a["m"] == {"M": {"z": {"N": "0"}}} and a["s"] == {"SS": ["y"]}
    assert a["n"] == {"N": "12345678901234567890123456789012345678"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.update_item(TableName=t, Key={"pk": {"S": "u"}}, UpdateExpression="SET pk = :v",
                        ExpressionAttributeValues={":v": {"S": "other"}})
    assert err(e)[:2] == (400, "ValidationException") and "part of the key" in err(e)[2]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.update_item(TableName=t, Key={"pk": {"S": "u"}}, UpdateExpression="SET missing = missing + :one",
                        ExpressionAttributeValues={":one": {"N": "1"}})
    assert err(e)[:2] == (400, "ValidationException")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.update_item(TableName=t, Key={"pk": {"S": "u"}}, UpdateExpression="SET c = :v",
                        ConditionExpression="c = :one",
                        ExpressionAttributeValues={":v": {"N": "9"}, ":one": {"N": "1"}})
    assert err(e)[:2] == (400, "ConditionalCheckFailedException")
    assert ddb.get_item(TableName=t, Key={"pk": {"S": "u"}})["Item"]["c"] == {"N": "2"}


NUMBERS = ["-9.9999999999999999999999999999999999999E+125", "-1000", "-1.5", "-1", "-1E-130", "0",
           "1E-130", "0.001", "1", "1.5", "2", "10", "99", "100", "1E+10", "9.9999999999999999999999999999999999999E+125"]


def test_query_orders_numbers_and_binary_keys_as_dynamodb_and_pages(ddb):
    t = table(ddb, range_type="N")
    for n in reversed(NUMBERS):
        ddb.put_item(TableName=t, Item={"pk": {"S": "h"}, "sk": {"N": n}})
    got = [decimal.Decimal(i["sk"]["N"]) for i in ddb.query(TableName=t, KeyConditionExpression="pk = :h",
                                                          ExpressionAttributeValues={":h": {"S": "h"}})["Items"]]
    assert got == sorted(decimal.Decimal(n) for n in NUMBERS)
    back = ddb.query(TableName=t, KeyConditionExpression="pk = :h AND sk BETWEEN :a AND :b", ScanIndexForward=False,
                     ExpressionAttributeValues={":h": {"S": "h"}, ":a": {"N": "-1"}, ":b": {"N": "1.5"}})["Items"]
    want = sorted((decimal.Decimal(n) for n in NUMBERS if -1 <= decimal.Decimal(n) <= decimal.Decimal("1.5")), reverse=True)
    assert [decimal.Decimal(i["sk"]["N"]) for i in back] == want
    # pages of 3 neither skip nor repeat
    seen = []
    kw = {}
    while True:
        page = ddb.query(TableName=t, KeyConditionExpression="pk = :h", Limit=3,
                         ExpressionAttributeValues={":h": {"S": "h"}}, **kw)
        seen += [i["sk"]["N"] for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        kw = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
    assert len(seen) == len(NUMBERS) and len(set(seen)) == len(NUMBERS)
    gt = ddb.query(TableName=t, KeyConditionExpression="pk = :h AND sk > :z", Select="COUNT",
                   ExpressionAttributeValues={":h": {"S": "h"}, ":z": {"N": "0"}})
    assert gt["Count"] == sum(1 for n in NUMBERS if decimal.Decimal(n) > 0)
    filt = ddb.query(TableName=t, KeyConditionExpression="pk = :h", FilterExpression="sk >= :ten",
                     ExpressionAttributeValues={":h": {"S": "h"}, ":ten": {"N": "10"}})
    assert filt["Count"] == 5 and filt["ScannedCount"] == len(NUMBERS)

    tb = table(ddb, range_type="B")
    keys = [b"", b"\x00", b"\x00\x00", b"\x01", b"\x7f", b"\x80", b"\xff", b"\xff\x00"]
    for k in keys[1:]:
        ddb.put_item(TableName=tb, Item={"pk": {"S": "h"}, "sk": {"B": k}})
    got = [i["sk"]["B"] for i in ddb.query(TableName=tb, KeyConditionExpression="pk = :h",
                                          ExpressionAttributeValues={":h": {"S": "h"}})["Items"]]
    assert got == sorted(keys[1:]), "binary keys sort as unsigned bytes"
    pre = ddb.query(TableName=tb, KeyConditionExpression="pk = :h AND begins_with(sk, :p)",
                    ExpressionAttributeValues={":h": {"S": "h"}, ":p": {"B": b"\xff"}})["Items"]
    assert [i["sk"]["B"] for i in pre] == [b"\xff", b"\xff\x00"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.query(TableName=t, KeyConditionExpression="sk = :z", ExpressionAttributeValues={":z": {"N": "0"}})
    assert err(e)[:2] == (400, "ValidationException")


def test_scan_pages_and_segments_and_filters(ddb):
    t = table(ddb)
    for i in range(60):
        ddb.put_item(TableName=t, Item={"pk": {"S": f"k{i:02d}"}, "n": {"N": str(i)}})
    seen = []
    for page in ddb.get_paginator("scan").paginate(TableName=t, PaginationConfig={"PageSize": 7}):
        seen += [i["pk"]["S"] for i in page["Items"]]
    assert sorted(seen) == [f"k{i:02d}" for i in range(60)]
    parts = []
    for seg in range(4):
        parts += [i["pk"]["S"] for i in ddb.scan(TableName=t, Segment=seg, TotalSegments=4)["Items"]]
    assert sorted(parts) == sorted(seen)
    odd = ddb.scan(TableName=t, FilterExpression="n IN (:a, :b) OR (n BETWEEN :lo AND :hi AND NOT n = :x)",
                   ExpressionAttributeValues={":a": {"N": "1"}, ":b": {"N": "3"}, ":lo": {"N": "50"}, ":hi": {"N": "52"},
                                              ":x": {"N": "51"}})
    assert sorted(int(i["n"]["N"]) for i in odd["Items"]) == [1, 3, 50, 52]


def test_batches_and_transactions_all_or_nothing(ddb):
    t = table(ddb)
    ddb.batch_write_item(RequestItems={t: [{"PutRequest": {"Item": {"pk": {"S": f"b{i}"}, "v": {"N": "0"}}}} for i in range(25)]})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.batch_write_item(RequestItems={t: [{"PutRequest": {"Item": {"pk": {"S": f"c{i}"}}}} for i in range(26)]})
    assert err(e)[:2] == (400, "ValidationException")
    got = ddb.batch_get_item(RequestItems={t: {"Keys": [{"pk": {"S": f"b{i}"}} for i in range(0, 25, 5)] + [{"pk": {"S": "nope"}}]}})
    assert sorted(i["pk"]["S"] for i in got["Responses"][t]) == ["b0", "b10", "b15", "b20", "b5"]
    assert got["UnprocessedKeys"] == {}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": t, "Key": {"pk": {"S": "b1"}}, "UpdateExpression": "SET v = :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"Put": {"TableName": t, "Item": {"pk": {"S": "new"}}}},
            {"ConditionCheck": {"TableName": t, "Key": {"pk": {"S": "b2"}}, "ConditionExpression": "v = :nine",
                                "ExpressionAttributeValues": {":nine": {"N": "9"}}}},
        ])
    assert err(e)[:2] == (400, "TransactionCanceledException")
    reasons = e.value.response.get("CancellationReasons")
    assert [r["Code"] for r in reasons] == ["None", "None", "ConditionalCheckFailed"]
    assert ddb.get_item(TableName=t, Key={"pk": {"S": "b1"}})["Item"]["v"] == {"N": "0"}, "rolled back"
    assert "Item" not in ddb.get_item(TableName=t, Key={"pk": {"S": "new"}})
    ddb.transact_write_items(TransactItems=[
        {"Update": {"TableName": t, "Key": {"pk": {"S": "b1"}}, "UpdateExpression": "SET v = :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Delete": {"TableName": t, "Key": {"pk": {"S": "b3"}}}},
    ])
    assert ddb.get_item(TableName=t, Key={"pk": {"S": "b1"}})["Item"]["v"] == {"N": "1"}
    assert "Item" not in ddb.get_item(TableName=t, Key={"pk": {"S": "b3"}})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.transact_write_items(TransactItems=[
            {"Delete": {"TableName": t, "Key": {"pk": {"S": "b4"}}}},
            {"Delete": {"TableName": t, "Key": {"pk": {"S": "b4"}}}},
        ])
    assert err(e)[:2] == (400, "ValidationException")


def test_the_aws_cli_and_a_restart_keep_every_item(daemon_factory, tmp_path):
    from e2e_util import AwsCli

    d = daemon_factory()
    aws = AwsCli(d.endpoint, tmp_path)
    aws("dynamodb", "create-table", "--table-name", "results", "--attribute-definitions",
        "AttributeName=board,AttributeType=S", "--key-schema", "AttributeName=board,KeyType=HASH",
        "--billing-mode", "PAY_PER_REQUEST")
    for i in range(30):
        aws("dynamodb", "put-item", "--table-name", "results", "--item", json.dumps({"board": {"S": f"q{i}"}, "n": {"N": str(i)}}))
    d.restart()
    aws = AwsCli(d.endpoint, tmp_path)
    out = aws("dynamodb", "scan", "--table-name", "results", "--select", "COUNT")
    assert out["Count"] == 30
    got = aws("dynamodb", "get-item", "--table-name", "results", "--key", '{"board":{"S":"q7"}}')
    assert got["Item"]["n"] == {"N": "7"}


OPTIMISTIC = r"""
ep="$AWS_ENDPOINT_URL"; t=$(jget table); n=$(jget n)
call() { curl -sS --noproxy '*' --aws-sigv4 "aws:amz:${AWS_REGION}:dynamodb" -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
  -H "X-Amz-Target: DynamoDB_20120810.$1" -H 'Content-Type: application/x-amz-json-1.0' --data-binary "$2" "$ep/"; }
i=0; conflicts=0
while [ "$i" -lt "$n" ]; do
  v=$(call GetItem "{\"TableName\":\"$t\",\"Key\":{\"pk\":{\"S\":\"counter\"}},\"ConsistentRead\":true}" \
      | sed -n 's/.*"v":{"N":"\([0-9]*\)"}.*/\1/p')
  out=$(call PutItem "{\"TableName\":\"$t\",\"Item\":{\"pk\":{\"S\":\"counter\"},\"v\":{\"N\":\"$((v + 1))\"}},\"ConditionExpression\":\"v = :old\",\"ExpressionAttributeValues\":{\":old\":{\"N\":\"$v\"}}}")
  case "$out" in *ConditionalCheckFailed*) conflicts=$((conflicts + 1));; *) i=$((i + 1));; esac
done
printf '{"conflicts":%d}' "$conflicts" | respond
"""


def test_16_functions_incrementing_with_conditional_writes_lose_no_update(ddb, functions, lam):
    t = table(ddb)
    ddb.put_item(TableName=t, Item={"pk": {"S": "counter"}, "v": {"N": "0"}})
    fn = functions.shell(OPTIMISTIC, timeout=60)
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=16)
    results = []

    def run():
        out = make_client("lambda", lam.meta.endpoint_url).invoke(
            FunctionName=fn, Payload=json.dumps({"table": t, "n": 10}))
        results.append(json.loads(out["Payload"].read()))

    threads = [threading.Thread(target=run) for _ in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) == 16 and all("conflicts" in r for r in results), results
    assert ddb.get_item(TableName=t, Key={"pk": {"S": "counter"}})["Item"]["v"] == {"N": "160"}
