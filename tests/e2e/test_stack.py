"""Issue 8: stacks — `lambdalite deploy / remove / info / deploy function` of a serverless.yml,
the stack engine behind them (dependency order, diff, no-op redeploys, in-place updates,
rollback), and least-privilege function roles enforced on every call the function makes.

The services are written the way the seeds show them: the Kinesis article's serverless.yml
(provider iamRoleStatements, a function, a 200-shard stream, a table and the mapping between
them with Fn::GetAtt on the generated QueensHandlerLambdaFunction) and the white paper's runtime
layer + function + bucket trigger. Functions are shell runtimes that call the daemon's APIs with
boto3 (under /usr/bin/python3 inside the sandbox) with the credentials they are given.
"""

import json
import time

import pytest

from e2e_util import ACCOUNT, REGION, RawClient, make_client, shell_bootstrap, wait_until

ROLE_NAME = "queens-completion-lambda-kinesis-dev-us-east-1-lambdaRole"
FN_NAME = "queens-completion-lambda-kinesis-dev-queensHandler"
STACK = "queens-completion-lambda-kinesis-dev"

# The article's serverless.yml (../shared/reference/serverless-package/queens-provided), with
# the stream's name and region kept; BATCH is replaced per test.
ARTICLE_YML = """\
service: queens-completion-lambda-kinesis
frameworkVersion: '3'
provider:
  name: aws
  runtime: provided.al2
  region: us-east-1
  memorySize: 128
  timeout: 30
  iamRoleStatements:
    - Effect: Allow
      Action: [kinesis:GetRecords, kinesis:GetShardIterator, kinesis:DescribeStream, kinesis:ListStreams, kinesis:PutRecord, kinesis:PutRecords]
      Resource: {Fn::GetAtt: [workStream, Arn]}
    - Effect: Allow
      Action: [dynamodb:PutItem]
      Resource: {Fn::GetAtt: [resultsTable, Arn]}
functions:
  queensHandler:
    handler: lambdaHandler.process
resources:
  Resources:
    workStream:
      Type: AWS::Kinesis::Stream
      Properties: {Name: queensWorkStream, ShardCount: 200}
    resultsTable:
      Type: AWS::DynamoDB::Table
      Properties:
        TableName: queensResultsTable
        AttributeDefinitions: [{AttributeName: key, AttributeType: S}]
        KeySchema: [{AttributeName: key, KeyType: HASH}]
        ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 100}
    Event:
      Type: AWS::Lambda::EventSourceMapping
      Properties:
        BatchSize: BATCH
        EventSourceArn: {Fn::GetAtt: [workStream, Arn]}
        FunctionName: {Fn::GetAtt: [QueensHandlerLambdaFunction, Arn]}
        StartingPosition: TRIM_HORIZON
"""

# For each record of the batch: PutItem (allowed by the role) with what GetItem (not allowed)
# answered, so the test sees both through the table.
HANDLER_PY = r'''
import base64, json, os, sys
import boto3, botocore
event = json.load(open(sys.argv[1]))
ddb = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
kin = boto3.client("kinesis", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
try:  # its role may put to its own stream only
    kin.put_records(StreamName="someoneElsesStream", Records=[{"Data": b"x", "PartitionKey": "k"}])
    other = "allowed"
except botocore.exceptions.ClientError as e:
    other = e.response["Error"]["Code"]
for r in event.get("Records", []):
    key = base64.b64decode(r["kinesis"]["data"]).decode()
    try:
        ddb.get_item(TableName="queensResultsTable", Key={"key": {"S": key}})
        denied = "allowed"
    except botocore.exceptions.ClientError as e:
        denied = e.response["Error"]["Code"] + ": " + e.response["Error"]["Message"]
    ddb.put_item(TableName="queensResultsTable", Item={"key": {"S": key}, "get": {"S": denied},
                 "keyid": {"S": os.environ["AWS_ACCESS_KEY_ID"][:4]}, "other": {"S": other}})
print(json.dumps({"n": len(event.get("Records", []))}))
'''

HANDLER_BODY = 'python3 "$LAMBDA_TASK_ROOT/handler.py" "$W/event" | respond'


def write_service(path, yml, files):
    path.mkdir(parents=True, exist_ok=True)
    (path / "serverless.yml").write_text(yml)
    for name, (content, mode) in files.items():
        p = path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
        p.chmod(mode)
    return path / "serverless.yml"


def article_service(tmp_path, batch=50):
    return write_service(
        tmp_path / "queens",
        ARTICLE_YML.replace("BATCH", str(batch)),
        {"bootstrap": (shell_bootstrap(HANDLER_BODY), 0o755), "handler.py": (HANDLER_PY, 0o644)},
    )


def deploy(cli, yml, *extra, check=True):
    return cli("deploy", "-c", yml, *extra, check=check, timeout=180)


def test_article_stack_deploy_run_redeploy_update_and_remove(daemon, cli, aws, kinesis, tmp_path):
    yml = article_service(tmp_path)
    out = deploy(cli, yml).stdout
    # progress per resource, then the summary and the function's name
    for line in ("AWS::Kinesis::Stream", "AWS::DynamoDB::Table", "AWS::IAM::Role",
                 "AWS::Lambda::Function", "AWS::Lambda::EventSourceMapping"):
        assert line in out, out
    # as `serverless deploy`: the stack is made with its deployment bucket, then updated
    assert "Creating stack" in out and "CREATE_COMPLETE" in out, out
    assert f"Stack {STACK}: UPDATE_COMPLETE" in out and "6 created" in out, out
    assert f"queensHandler: {FN_NAME}" in out

    stream = aws("kinesis", "describe-stream-summary", "--stream-name", "queensWorkStream")
    assert stream["StreamDescriptionSummary"]["OpenShardCount"] == 200
    table = aws("dynamodb", "describe-table", "--table-name", "queensResultsTable")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "key", "KeyType": "HASH"}]
    fn = aws("lambda", "get-function-configuration", "--function-name", FN_NAME)
    assert fn["Role"] == f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
    assert fn["MemorySize"] == 128 and fn["Timeout"] == 30 and fn["Handler"] == "lambdaHandler.process"
    maps = aws("lambda", "list-event-source-mappings", "--function-name", FN_NAME)["EventSourceMappings"]
    assert len(maps) == 1 and maps[0]["BatchSize"] == 50
    assert maps[0]["EventSourceArn"] == f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/queensWorkStream"
    uuid = maps[0]["UUID"]

    # the system runs: records through the mapping into the function, which writes the table
    # with its role's credentials (PutItem allowed) and is refused GetItem
    kinesis.put_records(StreamName="queensWorkStream",
                        Records=[{"Data": f"k{i}".encode(), "PartitionKey": f"p{i}"} for i in range(20)])
    ddb = make_client("dynamodb", daemon.endpoint)

    def items():
        return ddb.scan(TableName="queensResultsTable")["Items"]

    wait_until(lambda: len(items()) == 20, timeout=60, message="20 items written by the function")
    for it in items():
        assert it["keyid"]["S"] == "ASIA", it  # a temporary key, not the administrator's
        assert it["other"]["S"] == "AccessDeniedException", it
        assert it["get"]["S"] == (
            f"AccessDeniedException: User: arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE_NAME}/{FN_NAME} "
            f"is not authorized to perform: dynamodb:GetItem on resource: "
            f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/queensResultsTable because no "
            f"identity-based policy allows the dynamodb:GetItem action"), it

    # the same file again changes nothing, and says so
    out = deploy(cli, yml).stdout
    assert f"No changes: stack {STACK} is up to date" in out, out
    assert "AWS::Lambda::" not in out and "AWS::Kinesis::" not in out, out  # no resource step

    # batch size 50 -> 10: the mapping is updated in place (same UUID), nothing else changes
    article_service(tmp_path, batch=10)
    out = deploy(cli, yml).stdout
    assert "UPDATE_COMPLETE" in out and "AWS::Lambda::EventSourceMapping" in out, out
    assert "1 updated" in out and "0 created" in out and "0 deleted" in out, out
    m = aws("lambda", "get-event-source-mapping", "--uuid", uuid)
    assert m["BatchSize"] == 10

    info = cli.json("info", "--json", "-c", yml)
    assert info["stack"]["StackStatus"] == "UPDATE_COMPLETE"
    ids = {r["LogicalResourceId"]: r for r in info["stack"]["Resources"]}
    assert ids["QueensHandlerLambdaFunction"]["PhysicalResourceId"] == FN_NAME
    assert ids["Event"]["PhysicalResourceId"] == uuid
    assert info["stack"]["Functions"]["queensHandler"]["name"] == FN_NAME
    human = cli("info", "-c", yml).stdout
    assert f"stack      {STACK}: UPDATE_COMPLETE" in human and "queensWorkStream" in human

    # remove deletes what the stack made, and nothing else
    s3 = make_client("s3", daemon.endpoint)
    s3.create_bucket(Bucket="not-the-stacks")
    out = cli("remove", "-c", yml, timeout=120).stdout
    assert f"Stack {STACK} removed" in out, out
    assert client_error_code(lambda: aws_json(aws, "kinesis", "describe-stream-summary", "--stream-name", "queensWorkStream")) == "ResourceNotFoundException"
    assert client_error_code(lambda: aws_json(aws, "dynamodb", "describe-table", "--table-name", "queensResultsTable")) == "ResourceNotFoundException"
    assert client_error_code(lambda: aws_json(aws, "lambda", "get-function", "--function-name", FN_NAME)) == "ResourceNotFoundException"
    assert aws("lambda", "list-event-source-mappings")["EventSourceMappings"] == []
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert buckets == ["not-the-stacks"], buckets  # the deployment bucket went, this one stays
    assert "not deployed" in cli("info", "-c", yml).stdout


def aws_json(aws, *args):
    proc = aws(*args, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout)


def client_error_code(fn):
    try:
        fn()
    except RuntimeError as e:
        text = str(e)
        for code in ("ResourceNotFoundException", "AccessDeniedException", "NoSuchBucket"):
            if code in text:
                return code
        return text
    return None


# ---- the white paper: a runtime layer, a function, a bucket trigger ----------------------------

PRICER_YML = """\
service: kdb-pricer
provider:
  name: aws
  runtime: provided.al2
  stage: ${opt:stage, 'dev'}
  environment:
    RECORDER_URL: ${env:RECORDER_URL}
  iam:
    role:
      statements:
        - Effect: Allow
          Action: [s3:GetObject]
          Resource: arn:aws:s3:::kdb-pricer-input-${self:provider.stage}/*
layers:
  kdb:
    path: layer
    description: the q runtime
functions:
  pricer:
    handler: bs.q
    memorySize: 256
    timeout: 20
    layers:
      - {Ref: KdbLambdaLayer}
    events:
      - s3:
          bucket: kdb-pricer-input-${self:provider.stage}
          event: s3:ObjectCreated:*
          rules:
            - suffix: .csv
    package:
      patterns: ['!layer/**']
"""

# Reads its object with its own credentials (s3:GetObject allowed) and tries to write one back
# (s3:PutObject not allowed); reports both, with what the layer at /opt says.
PRICER_PY = r'''
import json, os, sys, urllib.request
import boto3, botocore
event = json.load(open(sys.argv[1]))
rec = event["Records"][0]["s3"]
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
body = s3.get_object(Bucket=rec["bucket"]["name"], Key=rec["object"]["key"])["Body"].read().decode()
try:
    s3.put_object(Bucket=rec["bucket"]["name"], Key="prices/" + rec["object"]["key"], Body=b"x")
    put = "allowed"
except botocore.exceptions.ClientError as e:
    put = e.response["Error"]["Code"]
report = {"key": rec["object"]["key"], "body": body, "put": put,
          "layer": open("/opt/bin/q.version").read().strip(), "version": open(os.environ["LAMBDA_TASK_ROOT"] + "/VERSION").read().strip()}
urllib.request.urlopen(urllib.request.Request(os.environ["RECORDER_URL"] + "/record/priced", data=json.dumps(report).encode(), method="POST"))
print(json.dumps(report))
'''


def pricer_service(tmp_path, version="1"):
    return write_service(
        tmp_path / "pricer",
        PRICER_YML,
        {
            "bootstrap": (shell_bootstrap('python3 "$LAMBDA_TASK_ROOT/pricer.py" "$W/event" | respond'), 0o755),
            "pricer.py": (PRICER_PY, 0o644),
            "VERSION": (version + "\n", 0o644),
            "layer/bin/q.version": ("kdb+ 4.0 (layer)\n", 0o644),
        },
    )


def test_white_paper_layer_function_and_bucket_trigger(daemon, cli, aws, s3, recorder, tmp_path):
    yml = pricer_service(tmp_path)
    env = {"RECORDER_URL": recorder.url}
    out = cli("deploy", "-c", yml, env=env, timeout=180).stdout
    assert "AWS::Lambda::LayerVersion" in out and "AWS::S3::Bucket" in out, out
    fn = aws("lambda", "get-function-configuration", "--function-name", "kdb-pricer-dev-pricer")
    assert fn["Layers"][0]["Arn"].startswith(f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:kdb:")
    cfg = s3.get_bucket_notification_configuration(Bucket="kdb-pricer-input-dev")
    assert cfg["LambdaFunctionConfigurations"][0]["LambdaFunctionArn"].endswith(":function:kdb-pricer-dev-pricer")

    s3.put_object(Bucket="kdb-pricer-input-dev", Key="skip.txt", Body=b"not a csv")
    s3.put_object(Bucket="kdb-pricer-input-dev", Key="params-1.csv", Body=b"200 220 0.25 0.025 0.2673")
    got = json.loads(recorder.wait("priced", timeout=60)["priced"].body)
    assert got == {"key": "params-1.csv", "body": "200 220 0.25 0.025 0.2673", "put": "AccessDenied",
                   "layer": "kdb+ 4.0 (layer)", "version": "1"}
    time.sleep(0.5)
    assert [json.loads(r.body)["key"] for r in recorder.records] == ["params-1.csv"]  # .txt filtered

    # a configuration change updates the function in place
    yml.write_text(PRICER_YML.replace("memorySize: 256", "memorySize: 512"))
    out = cli("deploy", "-c", yml, env=env, timeout=180).stdout
    assert "UPDATE_COMPLETE" in out and "AWS::Lambda::Function" in out and "1 updated" in out, out
    fn = aws("lambda", "get-function-configuration", "--function-name", "kdb-pricer-dev-pricer")
    assert fn["MemorySize"] == 512 and fn["Environment"]["Variables"]["RECORDER_URL"] == recorder.url

    # the fast path: only the function's code changes
    pricer_service(tmp_path, version="2")
    out = cli("deploy", "function", "-f", "pricer", "-c", yml, env=env).stdout
    assert "Function pricer (kdb-pricer-dev-pricer) updated" in out, out
    s3.put_object(Bucket="kdb-pricer-input-dev", Key="params-2.csv", Body=b"1 2 3 4 5")
    wait_until(lambda: len(recorder.records) == 2, timeout=60, message="the second upload priced")
    assert json.loads(recorder.records[1].body)["version"] == "2"

    # a bucket the stack made keeps its objects: remove says what to do instead of deleting them
    proc = cli("remove", "-c", yml, env=env, check=False, timeout=120)
    assert proc.returncode == 1
    assert "The bucket you tried to delete is not empty (kdb-pricer-input-dev)" in proc.stdout + proc.stderr
    for key in ("skip.txt", "params-1.csv", "params-2.csv"):
        s3.delete_object(Bucket="kdb-pricer-input-dev", Key=key)
    out = cli("remove", "-c", yml, env=env, timeout=120).stdout
    assert "removed" in out
    assert aws("lambda", "list-layers")["Layers"] == []


# ---- errors, with the file's line -----------------------------------------------------------

def base_yml(functions=None, extra=""):
    return (
        "service: errs\nprovider:\n  name: aws\n  runtime: provided.al2\n  region: us-east-1\n"
        "  stage: dev\n"
        + (functions or "functions:\n  queensHandler:\n    handler: lambdaHandler.process\n")
        + extra
    )


def test_every_mistake_is_an_error_with_its_line_and_nothing_is_deployed(daemon, cli, tmp_path):
    d = tmp_path / "errs"
    d.mkdir()
    (d / "bootstrap").write_text("#!/bin/sh\n")
    yml = d / "serverless.yml"

    def fails(text):
        yml.write_text(text)
        proc = cli("deploy", "-c", yml, check=False)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        return proc.stderr.strip()

    # an unknown key: named, with its line and a suggestion
    msg = fails(base_yml("functions:\n  queensHandler:\n    handler: lambdaHandler.process\n    memroySize: 256\n"))
    assert "serverless.yml:10: functions.queensHandler.memroySize: unknown key" in msg and "memorySize" in msg, msg
    # ... which --allow-unknown turns into a warning
    yml.write_text(base_yml("functions:\n  queensHandler:\n    handler: lambdaHandler.process\n    memroySize: 256\n"))
    proc = cli("deploy", "-c", yml, "--allow-unknown", timeout=120)
    assert "warning: serverless.yml:10: functions.queensHandler.memroySize" in proc.stderr, proc.stderr
    cli("remove", "-c", yml, timeout=120)

    # a bad Fn::GetAtt attribute, a reference to nothing, a cycle, a missing file, an
    # unsupported event
    stream = ("resources:\n  Resources:\n    workStream:\n      Type: AWS::Kinesis::Stream\n"
              "      Properties: {Name: s1, ShardCount: 1}\n")
    msg = fails(base_yml(extra=stream + "    Event:\n      Type: AWS::Lambda::EventSourceMapping\n"
                         "      Properties:\n        EventSourceArn: {Fn::GetAtt: [workStream, StreamArn]}\n"
                         "        FunctionName: {Fn::GetAtt: [QueensHandlerLambdaFunction, Arn]}\n"
                         "        StartingPosition: TRIM_HORIZON\n"))
    assert "serverless.yml:18:" in msg and "StreamArn" in msg and "Arn" in msg, msg
    msg = fails(base_yml(extra=stream + "    Event:\n      Type: AWS::Lambda::EventSourceMapping\n"
                         "      Properties:\n        EventSourceArn: {Fn::GetAtt: [workStrem, Arn]}\n"
                         "        FunctionName: {Fn::GetAtt: [QueensHandlerLambdaFunction, Arn]}\n"
                         "        StartingPosition: TRIM_HORIZON\n"))
    assert "serverless.yml:18:" in msg and "workStrem" in msg and "workStream" in msg, msg
    msg = fails(base_yml(extra="resources:\n  Resources:\n    a:\n      Type: AWS::Kinesis::Stream\n"
                         "      DependsOn: b\n      Properties: {ShardCount: 1}\n"
                         "    b:\n      Type: AWS::Kinesis::Stream\n      DependsOn: a\n"
                         "      Properties: {ShardCount: 1}\n"))
    assert "serverless.yml:" in msg and ("a -> b -> a" in msg or "b -> a -> b" in msg), msg
    msg = fails(base_yml(extra="custom:\n  limits: ${file(./limits.yml)}\n"))
    assert "serverless.yml:11:" in msg and "limits.yml" in msg, msg
    msg = fails(base_yml("functions:\n  queensHandler:\n    handler: h\n    events:\n      - http: {path: hi, method: get}\n"))
    assert "serverless.yml:11:" in msg and "not supported yet" in msg, msg
    msg = fails(base_yml(extra="resources:\n  Resources:\n    q:\n      Type: AWS::SQS::Queue\n"))
    assert "serverless.yml:13:" in msg and "AWS::SQS::Queue" in msg, msg
    assert RawClient(daemon.port).signed("GET", "/lambdalite/v1/stacks/errs-dev").status == 400  # not made


# ---- rollback ----------------------------------------------------------------------------------


def test_a_failure_mid_deploy_rolls_back_and_the_previous_stack_keeps_working(daemon, cli, aws, kinesis, tmp_path):
    yml = article_service(tmp_path / "rb")
    deploy(cli, yml)
    uuid = aws("lambda", "list-event-source-mappings", "--function-name", FN_NAME)["EventSourceMappings"][0]["UUID"]
    # A table named like one that exists outside the stack: only the daemon can find out,
    # half-way through the deploy, after the mapping was updated (batch 50 -> 10).
    ddb = make_client("dynamodb", daemon.endpoint)
    ddb.create_table(TableName="taken", AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    text = ARTICLE_YML.replace("BATCH", "10") + (
        "    second:\n      Type: AWS::DynamoDB::Table\n      DependsOn: Event\n      Properties:\n"
        "        TableName: taken\n        BillingMode: PAY_PER_REQUEST\n"
        "        AttributeDefinitions: [{AttributeName: k, AttributeType: S}]\n"
        "        KeySchema: [{AttributeName: k, KeyType: HASH}]\n")
    yml.write_text(text)
    proc = deploy(cli, yml, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "CREATE_FAILED" in out and "Table already exists: taken" in out, out
    assert "UPDATE_ROLLBACK_IN_PROGRESS" in out and "UPDATE_ROLLBACK_COMPLETE" in out, out
    # the previous stack stands: the mapping back at 50 and still delivering
    assert aws("lambda", "get-event-source-mapping", "--uuid", uuid)["BatchSize"] == 50
    assert cli.json("info", "--json", "-c", yml)["stack"]["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    kinesis.put_record(StreamName="queensWorkStream", Data=b"after-rollback", PartitionKey="x")
    wait_until(lambda: "Item" in ddb.get_item(TableName="queensResultsTable", Key={"key": {"S": "after-rollback"}}),
               timeout=60, message="the function still runs after the rollback")
    assert ddb.describe_table(TableName="taken")["Table"]["TableName"] == "taken"  # not the stack's
    yml.write_text(ARTICLE_YML.replace("BATCH", "50"))
    cli("remove", "-c", yml, timeout=120)
    assert ddb.describe_table(TableName="taken")["Table"]["TableName"] == "taken"


# ---- the engine's template interface -----------------------------------------------------------


def post_stack(raw, name, template):
    r = raw.signed("POST", f"/lambdalite/v1/stacks/{name}", body=json.dumps(template).encode())
    lines = [json.loads(line) for line in r.body.decode().splitlines() if line.strip()] if r.status == 200 else []
    return r, lines


def test_template_intrinsics_resolve_and_template_errors_are_cloudformations(daemon):
    raw = RawClient(daemon.port)
    tpl = {
        "Resources": {
            "S": {"Type": "AWS::Kinesis::Stream", "Properties": {"Name": {"Fn::Join": ["-", ["tpl", {"Ref": "AWS::Region"}]]}, "ShardCount": 1}},
            "G": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": {"Fn::Sub": "/x/${S}/${AWS::AccountId}"}}},
        },
        "Outputs": {
            "Arn": {"Value": {"Fn::GetAtt": ["S", "Arn"]}},
            "Sub": {"Value": {"Fn::Sub": ["${S.Arn}|${v}|${!Literal}", {"v": {"Fn::Select": [1, {"Fn::GetAZs": ""}]}}]}},
            "Split": {"Value": {"Fn::Select": [2, {"Fn::Split": [":", {"Fn::GetAtt": ["S", "Arn"]}]}]}},
            "Group": {"Value": {"Ref": "G"}},
        },
    }
    r, lines = post_stack(raw, "tpl", tpl)
    assert r.status == 200, r.body
    summary = lines[-1]["Summary"]
    arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/tpl-{REGION}"
    assert summary["Outputs"] == {"Arn": arn, "Sub": f"{arn}|{REGION}b|${{Literal}}", "Split": "kinesis",
                                  "Group": f"/x/tpl-{REGION}/{ACCOUNT}"}
    assert [e["LogicalResourceId"] for e in lines if e.get("ResourceStatus") == "CREATE_COMPLETE"] == ["S", "G", "tpl"]

    def refused(template):
        r, _ = post_stack(raw, "tpl", template)
        assert r.status == 400 and r.headers["x-amzn-errortype"] == "ValidationError", r.body
        return json.loads(r.body)["message"]

    assert refused({"Resources": {"A": {"Type": "AWS::SQS::Queue"}}}).startswith(
        "Template format error: Unrecognized resource types: [AWS::SQS::Queue]")
    assert refused({"Resources": {"A": {"Type": "AWS::Kinesis::Stream", "Properties": {"Shards": 1}}}}).startswith(
        "Template error: resource A: Encountered unsupported property Shards")
    assert refused({"Resources": {"A": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": {"Ref": "B"}}}}}) == (
        "Template format error: Unresolved resource dependencies [B] in the Resources block of the template")
    assert refused({"Resources": {"A": {"Type": "AWS::Logs::LogGroup", "DependsOn": "B"},
                                  "B": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": {"Fn::GetAtt": ["A", "Arn"]}}}}}) == (
        "Circular dependency between resources: [A, B, A]")
    assert refused({"Resources": {"A": {"Type": "AWS::Logs::LogGroup"}},
                    "Outputs": {"X": {"Value": {"Fn::GetAtt": ["A", "StreamArn"]}}}}).startswith(
        "Template error: resource A does not support attribute type StreamArn in Fn::GetAtt")
    # the stack is as it was
    d = json.loads(raw.signed("GET", "/lambdalite/v1/stacks/tpl").body)
    assert d["StackStatus"] == "CREATE_COMPLETE"
    r = raw.signed("DELETE", "/lambdalite/v1/stacks/tpl")
    assert json.loads(r.body.decode().splitlines()[-1])["Summary"]["StackStatus"] == "DELETE_COMPLETE"
    assert json.loads(raw.signed("GET", "/lambdalite/v1/stacks").body) == {"Stacks": []}


# ---- schedules -------------------------------------------------------------------------------

SCHEDULE_YML = """\
service: ticker
provider:
  name: aws
  runtime: provided.al2
  environment:
    RECORDER_URL: ${env:RECORDER_URL}
functions:
  tick:
    handler: tick
    events:
      - schedule: rate(1 minute)
      - schedule:
          rate: rate(2 minutes)
          enabled: false
"""


def test_a_schedule_invokes_its_function_with_eventbridges_scheduled_event(daemon_factory, recorder, tmp_path):
    from e2e_util import LambdaliteCli

    d = daemon_factory(extra_args=["--async-time-scale", "0.002"])  # a minute is 120 ms
    cli = LambdaliteCli(d.endpoint, tmp_path)
    yml = write_service(tmp_path / "ticker", SCHEDULE_YML,
                        {"bootstrap": (shell_bootstrap('record tick < "$W/event"; echo {} | respond'), 0o755)})
    out = cli("deploy", "-c", yml, env={"RECORDER_URL": recorder.url}, timeout=120).stdout
    assert out.count("AWS::Events::Rule") == 2, out
    recorder.wait(3, timeout=30)
    ev = json.loads(recorder.records[0].body)
    assert ev["detail-type"] == "Scheduled Event" and ev["source"] == "aws.events" and ev["detail"] == {}
    assert ev["account"] == ACCOUNT and ev["region"] == REGION
    assert ev["resources"][0].startswith(f"arn:aws:events:{REGION}:{ACCOUNT}:rule/")
    assert len({json.loads(r.body)["resources"][0] for r in recorder.records}) == 1  # the disabled one never fires
    cli("remove", "-c", yml, env={"RECORDER_URL": recorder.url}, timeout=120)
    time.sleep(0.3)
    n = len(recorder.records)
    time.sleep(0.6)
    assert len(recorder.records) == n  # removed: no more ticks


# ---- credentials rotate with instances ---------------------------------------------------------

ROTATE_YML = """\
service: rotate
provider:
  name: aws
  runtime: provided.al2
  timeout: 1
  iam:
    role:
      statements:
        - {Effect: Allow, Action: ['dynamodb:ListTables'], Resource: '*'}
functions:
  who:
    handler: who
"""


def test_function_credentials_rotate_with_instances_and_die_with_them(daemon_factory, tmp_path):
    from e2e_util import LambdaliteCli, make_lambda_client

    # --async-time-scale 0.001: a credential lives 3.6 s; an instance whose credential would
    # expire within its timeout (1 s) gets no more events
    d = daemon_factory(extra_args=["--async-time-scale", "0.001"])
    cli = LambdaliteCli(d.endpoint, tmp_path)
    body = ('printf \'{"key":"%s","secret":"%s","token":"%s"}\' "$AWS_ACCESS_KEY_ID" '
            '"$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN" | respond')
    yml = write_service(tmp_path / "rotate", ROTATE_YML, {"bootstrap": (shell_bootstrap(body), 0o755)})
    cli("deploy", "-c", yml, timeout=120)
    lam = make_lambda_client(d.endpoint)

    def who():
        return json.loads(lam.invoke(FunctionName="rotate-dev-who")["Payload"].read())

    first = who()
    assert first["key"].startswith("ASIA") and len(first["token"]) > 100
    import boto3
    import botocore.config

    ddb = boto3.session.Session().client(
        "dynamodb", endpoint_url=d.endpoint, region_name=REGION, aws_access_key_id=first["key"],
        aws_secret_access_key=first["secret"], aws_session_token=first["token"],
        config=botocore.config.Config(retries={"max_attempts": 1}))
    ddb.list_tables()  # the role allows it, with the session token
    no_token = make_client("dynamodb", d.endpoint, access_key=first["key"], secret_key=first["secret"])
    with pytest.raises(Exception, match="UnrecognizedClientException.*The security token included in the request is invalid"):
        no_token.list_tables()
    assert who()["key"] == first["key"]  # the same warm instance, the same credential
    time.sleep(3.2)
    second = who()
    assert second["key"].startswith("ASIA") and second["key"] != first["key"]  # a new instance
    wait_until(lambda: _refused(ddb), timeout=10, message="the retired instance's key revoked")


def _refused(client):
    try:
        client.list_tables()
        return False
    except Exception as e:  # noqa: BLE001 - any refusal: the key is gone
        return "UnrecognizedClientException" in str(e) or "InvalidSignatureException" in str(e)


# ---- a C function with the runtime library, reading objects with its role ---------------------

ECHO_YML = """\
service: cfn
provider:
  name: aws
  runtime: provided.al2
  iam:
    role:
      statements:
        - {Effect: Allow, Action: ['s3:GetObject'], Resource: 'arn:aws:s3:::cfn-open/*'}
functions:
  echo:
    handler: echo
    package:
      artifact: echo.zip
"""


def test_c_function_streams_an_object_with_its_roles_session_credentials(daemon, cli, lam, s3, tmp_path):
    from e2e_util import echo_bootstrap_bytes, zip_files

    d = tmp_path / "cfn"
    d.mkdir()
    (d / "echo.zip").write_bytes(zip_files({"bootstrap": (echo_bootstrap_bytes(), 0o755)}))
    (d / "serverless.yml").write_text(ECHO_YML)
    for b in ("cfn-open", "cfn-closed"):
        s3.create_bucket(Bucket=b)
        s3.put_object(Bucket=b, Key="k", Body=b"x" * 100000)
    cli("deploy", "-c", d / "serverless.yml", timeout=120)

    def s3get(bucket):
        r = lam.invoke(FunctionName="cfn-dev-echo", Payload=json.dumps({"action": "s3get", "bucket": bucket, "key": "k"}))
        return r.get("FunctionError"), json.loads(r["Payload"].read())

    err, out = s3get("cfn-open")  # ll_s3_get_stream signs with the session token
    assert err is None and out["bytes"] == 100000, out
    err, out = s3get("cfn-closed")
    assert err == "Unhandled" and out["errorType"] == "S3Error", out
    assert "AccessDenied" in out["errorMessage"] or "403" in out["errorMessage"], out
    cli("remove", "-c", d / "serverless.yml", timeout=120)
    for b in ("cfn-open", "cfn-closed"):
        s3.delete_object(Bucket=b, Key="k")
        s3.delete_bucket(Bucket=b)


def test_deletion_policy_retain_keeps_the_resource_when_the_stack_goes(daemon):
    raw = RawClient(daemon.port)
    table = {"TableName": "kept-results", "BillingMode": "PAY_PER_REQUEST",
             "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
             "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}]}
    tpl = {"Resources": {
        "Kept": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "Properties": table},
        "Gone": {"Type": "AWS::Kinesis::Stream", "Properties": {"Name": "gone-stream", "ShardCount": 1}}}}
    r, _ = post_stack(raw, "keep", tpl)
    assert r.status == 200
    r = raw.signed("DELETE", "/lambdalite/v1/stacks/keep")
    events = [json.loads(line) for line in r.body.decode().splitlines()]
    status = {e["LogicalResourceId"]: e["ResourceStatus"] for e in events if "ResourceStatus" in e}
    assert status["Kept"] == "DELETE_SKIPPED" and status["Gone"] == "DELETE_COMPLETE", events
    ddb = make_client("dynamodb", daemon.endpoint)
    assert ddb.describe_table(TableName="kept-results")["Table"]["TableStatus"] == "ACTIVE"
    kinesis = make_client("kinesis", daemon.endpoint)
    assert "gone-stream" not in kinesis.list_streams()["StreamNames"]
    ddb.delete_table(TableName="kept-results")
    r, _ = post_stack(raw, "keep", {"Resources": {"A": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Snapshot"}}})
    assert r.status == 400 and b"Snapshot is not supported here" in r.body
