"""Lambda management API (rest-json, SigV4): functions, layers, account settings, the AWS error
envelope and signature verification, driven by boto3, the AWS CLI and raw signed HTTP.
Reference sections: /work/shared/reference/aws-wire-contract.md."""

import datetime
import json
import re
import subprocess

import pytest
from botocore.exceptions import ClientError

from e2e_util import (
    ACCOUNT,
    LAMBDALITE,
    REGION,
    STREAM_BODY,
    ROLE,
    UUID_RE,
    clean_env,
    client_error,
    code_sha256,
    echo_bootstrap_bytes,
    free_port,
    function_arn,
    invoke,
    layer_arn,
    make_lambda_client,
    shell_bootstrap,
    unique_name,
    zip_files,
)

LAST_MODIFIED_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")  # ref §2.4


def echo_zip():
    return zip_files({"bootstrap": (echo_bootstrap_bytes(), 0o755)})


def shell_zip(body, **files):
    z = {"bootstrap": (shell_bootstrap(body), 0o755)}
    z.update(files)
    return zip_files(z)


def not_found_message(name):
    return f"Function not found: arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


# ---------------------------------------------------------------------------------------------
# CreateFunction / GetFunction / GetFunctionConfiguration


def test_create_function_returns_201_and_configuration(lam, functions):
    name = unique_name("create")
    z = echo_zip()
    cfg = lam.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=ROLE,
        Handler="echo.handler",
        Code={"ZipFile": z},
        Description="created by the e2e suite",
        Timeout=7,
        MemorySize=256,
        Environment={"Variables": {"COLOR": "blue"}},
    )
    assert cfg["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert cfg["FunctionName"] == name
    assert cfg["FunctionArn"] == function_arn(name)  # unqualified in create (ref §2.4)
    assert cfg["Runtime"] == "provided.al2023"
    assert cfg["Role"] == ROLE
    assert cfg["Handler"] == "echo.handler"
    assert cfg["Description"] == "created by the e2e suite"
    assert cfg["Timeout"] == 7
    assert cfg["MemorySize"] == 256
    assert cfg["CodeSize"] == len(z)
    assert cfg["CodeSha256"] == code_sha256(z)
    assert cfg["Version"] == "$LATEST"
    assert cfg["Environment"] == {"Variables": {"COLOR": "blue"}}
    assert cfg["PackageType"] == "Zip"
    assert cfg["State"] in ("Pending", "Active")
    assert re.fullmatch(UUID_RE, cfg["RevisionId"])
    assert LAST_MODIFIED_RE.match(cfg["LastModified"]), cfg["LastModified"]
    functions.wait_active(name)


def test_create_function_defaults(lam, functions):
    # Defaults when omitted (ref §2.2/2.4): Timeout 3, MemorySize 128, Description "",
    # Environment {"Variables":{}} reported even when empty, Architectures ["x86_64"].
    name = unique_name("defaults")
    cfg = lam.create_function(
        FunctionName=name, Runtime="provided.al2", Role=ROLE, Handler="h", Code={"ZipFile": echo_zip()}
    )
    assert cfg["Timeout"] == 3
    assert cfg["MemorySize"] == 128
    assert cfg.get("Description", "") == ""
    assert cfg.get("Environment", {"Variables": {}}).get("Variables", {}) == {}
    assert cfg.get("Architectures", ["x86_64"]) == ["x86_64"]
    functions.wait_active(name)
    got = lam.get_function_configuration(FunctionName=name)
    assert got["State"] == "Active"
    assert got["LastUpdateStatus"] == "Successful"


@pytest.mark.parametrize("runtime", ["provided", "provided.al2", "provided.al2023"])
def test_custom_runtimes_accepted_and_invokable(lam, functions, runtime):
    name = functions.echo(runtime=runtime)
    assert lam.get_function_configuration(FunctionName=name)["Runtime"] == runtime
    inv = invoke(lam, name, {"runtime": runtime})
    assert inv.status == 200
    assert inv.function_error is None
    assert inv.json() == {"runtime": runtime}


def test_create_existing_name_conflicts(lam, functions):
    name = functions.echo()
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=ROLE, Handler="h", Code={"ZipFile": echo_zip()})
    status, code, message = client_error(e)
    assert (status, code) == (409, "ResourceConflictException")
    assert message == f"Function already exist: {name}"  # ref §2.4


@pytest.mark.parametrize(
    "field,value",
    [("MemorySize", 64), ("MemorySize", 10241), ("Timeout", 0), ("Timeout", 901)],
)
def test_create_rejects_out_of_range_limits(daemon, field, value):
    # MemorySize 128-10240, Timeout 1-900 (ref §2.2): AWS answers 400 (validation).
    client = make_lambda_client(daemon.endpoint, validate=False)  # let the daemon see the bad value
    args = dict(FunctionName=unique_name("limits"), Runtime="provided.al2023", Role=ROLE, Handler="h", Code={"ZipFile": echo_zip()})
    args[field] = value
    with pytest.raises(ClientError) as e:
        client.create_function(**args)
    status, code, _ = client_error(e)
    assert status == 400
    assert code in ("ValidationException", "InvalidParameterValueException")
    with pytest.raises(ClientError) as e:
        client.get_function(FunctionName=args["FunctionName"])
    assert client_error(e)[:2] == (404, "ResourceNotFoundException"), "a rejected function must not exist"


def test_create_rejects_reserved_environment_variable(lam):
    # Reserved keys (ref §1.7) cannot be set by the user's configuration: AWS answers
    # 400 InvalidParameterValueException.
    with pytest.raises(ClientError) as e:
        lam.create_function(
            FunctionName=unique_name("reserved"),
            Runtime="provided.al2023",
            Role=ROLE,
            Handler="h",
            Code={"ZipFile": echo_zip()},
            Environment={"Variables": {"AWS_LAMBDA_FUNCTION_NAME": "spoofed"}},
        )
    status, code, _ = client_error(e)
    assert (status, code) == (400, "InvalidParameterValueException")


def test_get_function_and_configuration(lam, functions):
    name = functions.echo(memory=192, timeout=4, env={"KEY_A": "1"})
    cfg = lam.get_function_configuration(FunctionName=name)
    assert cfg["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert cfg["FunctionName"] == name
    assert cfg["FunctionArn"] == function_arn(name)
    assert cfg["MemorySize"] == 192
    assert cfg["Timeout"] == 4
    assert cfg["Environment"] == {"Variables": {"KEY_A": "1"}}
    assert cfg["State"] == "Active"
    assert cfg["CodeSha256"] == code_sha256(echo_zip())

    full = lam.get_function(FunctionName=name)
    assert full["ResponseMetadata"]["HTTPStatusCode"] == 200
    conf = full["Configuration"]
    for key in ("FunctionName", "FunctionArn", "Runtime", "Handler", "MemorySize", "Timeout", "CodeSha256", "CodeSize", "RevisionId"):
        assert conf[key] == cfg[key], key


def test_get_function_by_arn(lam, functions):
    # FunctionName may be the full ARN (ref §2.2).
    name = functions.echo()
    cfg = lam.get_function_configuration(FunctionName=function_arn(name))
    assert cfg["FunctionName"] == name


def test_list_functions_lists_and_paginates(lam, functions):
    names = {functions.echo(prefix="list") for _ in range(3)}
    seen = []
    marker = None
    pages = 0
    while True:
        kw = {"MaxItems": 2}
        if marker:
            kw["Marker"] = marker
        page = lam.list_functions(**kw)
        pages += 1
        assert len(page["Functions"]) <= 2
        seen += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
        assert pages < 500, "NextMarker never ends"
    assert pages >= 2, "3+ functions with MaxItems=2 must need a second page (ref §2.4)"
    assert len(seen) == len(set(seen)), "a function appeared on two pages"
    assert names <= set(seen)

    everything = lam.list_functions()
    listed = {f["FunctionName"]: f for f in everything["Functions"]}
    assert names <= set(listed)
    for n in names:
        assert listed[n]["Runtime"] == "provided.al2023"
        assert listed[n]["FunctionArn"] in (function_arn(n), function_arn(n) + ":$LATEST")


# ---------------------------------------------------------------------------------------------
# Updates and delete


def test_update_function_code_runs_new_code(lam, functions):
    v1 = shell_zip(r"""printf '{"version":"v1","stream":"%s"}' "$AWS_LAMBDA_LOG_STREAM_NAME" | respond""")
    v2 = shell_zip(r"""printf '{"version":"v2","stream":"%s"}' "$AWS_LAMBDA_LOG_STREAM_NAME" | respond""")
    name = functions.create(zip_bytes=v1, prefix="upcode")
    before = lam.get_function_configuration(FunctionName=name)
    first = invoke(lam, name)
    assert first.json()["version"] == "v1"  # an instance of v1 is now warm

    cfg = lam.update_function_code(FunctionName=name, ZipFile=v2)
    assert cfg["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert cfg["CodeSha256"] == code_sha256(v2)
    assert cfg["CodeSize"] == len(v2)
    assert cfg["RevisionId"] != before["RevisionId"]
    functions.wait_active(name)

    second = invoke(lam, name)
    assert second.function_error is None
    assert second.json()["version"] == "v2", "a warm instance of the old code served the invoke"
    assert second.report.init is not None  # new code: a fresh instance (cold start)
    assert second.instance != first.instance
    assert lam.get_function_configuration(FunctionName=name)["CodeSha256"] == code_sha256(v2)


def test_update_function_configuration_applies(lam, functions):
    name = functions.shell(
        r"""printf '{"greeting":"%s","memory":"%s"}' "${GREETING:-}" "$AWS_LAMBDA_FUNCTION_MEMORY_SIZE" | respond"""
    )
    before = invoke(lam, name)
    assert before.json() == {"greeting": "", "memory": "128"}
    rev = lam.get_function_configuration(FunctionName=name)["RevisionId"]

    cfg = lam.update_function_configuration(
        FunctionName=name, MemorySize=256, Timeout=5, Description="updated", Environment={"Variables": {"GREETING": "hi"}}
    )
    assert cfg["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert cfg["MemorySize"] == 256
    assert cfg["Timeout"] == 5
    assert cfg["Description"] == "updated"
    assert cfg["Environment"] == {"Variables": {"GREETING": "hi"}}
    assert cfg["RevisionId"] != rev
    functions.wait_active(name)

    got = lam.get_function_configuration(FunctionName=name)
    assert (got["MemorySize"], got["Timeout"], got["Description"]) == (256, 5, "updated")
    after = invoke(lam, name)
    assert after.json() == {"greeting": "hi", "memory": "256"}
    assert after.report.memory == 256


def test_delete_function(lam, functions):
    name = functions.echo()
    resp = lam.delete_function(FunctionName=name)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204  # ref §2.4: AWS answers 204
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=name)
    assert client_error(e)[:2] == (404, "ResourceNotFoundException")
    with pytest.raises(ClientError) as e:
        invoke(lam, name)
    assert client_error(e)[:2] == (404, "ResourceNotFoundException")
    assert name not in {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName=name)
    status, code, message = client_error(e)
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == not_found_message(name)  # DeleteFunction reports the unqualified ARN (ref §2.1)


def test_delete_then_recreate_same_name(lam, functions):
    name = functions.shell(r"""printf '"old"' | respond""")
    assert invoke(lam, name).json() == "old"
    lam.delete_function(FunctionName=name)
    functions.create({"bootstrap": (shell_bootstrap(r"""printf '"new"' | respond"""), 0o755)}, name=name)
    assert invoke(lam, name).json() == "new"


# ---------------------------------------------------------------------------------------------
# Errors in the AWS shape


def test_unknown_function_is_404_resource_not_found(lam):
    for call in (
        lambda: lam.get_function(FunctionName="nope"),
        lambda: lam.get_function_configuration(FunctionName="nope"),
        lambda: lam.update_function_configuration(FunctionName="nope", Timeout=5),
        lambda: lam.update_function_code(FunctionName="nope", ZipFile=echo_zip()),
    ):
        with pytest.raises(ClientError) as e:
            call()
        status, code, message = client_error(e)
        assert (status, code) == (404, "ResourceNotFoundException")
        assert message == not_found_message("nope")


def test_invoke_unknown_function_is_404(lam):
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="nope", Payload=b"{}")
    status, code, message = client_error(e)
    assert (status, code) == (404, "ResourceNotFoundException")
    # The spec gives the unqualified ARN; AWS itself appends ":$LATEST" for Invoke (ref §2.1).
    assert message in (not_found_message("nope"), not_found_message("nope") + ":$LATEST")


def test_error_envelope_on_the_wire(raw):
    # ref §2.1: status from the model, x-amzn-ErrorType header, JSON body {"Type":"User","Message":...}
    r = raw.signed("GET", "/2015-03-31/functions/nope")
    assert r.status == 404
    assert r.headers.get("x-amzn-errortype", "").split(":")[0] == "ResourceNotFoundException"
    assert r.headers.get("content-type", "").startswith("application/json")
    body = r.json()
    assert body.get("Type") == "User"
    assert (body.get("Message") or body.get("message")) == not_found_message("nope")
    assert r.headers.get("x-amzn-requestid")


def test_get_account_settings(lam, functions):
    before = lam.get_account_settings()
    assert before["ResponseMetadata"]["HTTPStatusCode"] == 200
    limits = before["AccountLimit"]
    # ref §2.4 (AWS values)
    assert limits["CodeSizeZipped"] == 52428800
    assert limits["CodeSizeUnzipped"] == 262144000
    assert limits["TotalCodeSize"] == 80530636800
    assert limits["ConcurrentExecutions"] > 0
    assert 0 < limits["UnreservedConcurrentExecutions"] <= limits["ConcurrentExecutions"]

    z = echo_zip()
    name = functions.create(zip_bytes=z, prefix="acct")
    after = lam.get_account_settings()
    assert after["AccountUsage"]["FunctionCount"] == before["AccountUsage"]["FunctionCount"] + 1
    assert after["AccountUsage"]["TotalCodeSize"] == before["AccountUsage"]["TotalCodeSize"] + len(z)
    lam.delete_function(FunctionName=name)
    assert lam.get_account_settings()["AccountUsage"]["FunctionCount"] == before["AccountUsage"]["FunctionCount"]


# ---------------------------------------------------------------------------------------------
# Layers

LAYER_BOOTSTRAP = shell_bootstrap(
    r"""
OPT="${LAMBDALITE_OPT:-/opt}"
out=$("$LAMBDA_TASK_ROOT/handler.sh" < "$W/event")
msg=$(cat "$OPT/share/message.txt")
printf '{"handler":"%s","layer":"%s"}' "$out" "$msg" | respond
"""
)


def test_publish_and_get_layer_versions(lam):
    name = unique_name("layer")
    z1 = zip_files({"share/message.txt": "one"})
    z2 = zip_files({"share/message.txt": "two, longer"})

    v1 = lam.publish_layer_version(LayerName=name, Content={"ZipFile": z1}, CompatibleRuntimes=["provided.al2023"], Description="first")
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert v1["LayerArn"] == layer_arn(name)
    assert v1["LayerVersionArn"] == layer_arn(name, 1)
    assert v1["Version"] == 1
    assert v1["Content"]["CodeSha256"] == code_sha256(z1)
    assert v1["Content"]["CodeSize"] == len(z1)

    v2 = lam.publish_layer_version(LayerName=name, Content={"ZipFile": z2}, CompatibleRuntimes=["provided.al2023"])
    assert v2["LayerVersionArn"] == layer_arn(name, 2)
    assert v2["Version"] == 2

    got = lam.get_layer_version(LayerName=name, VersionNumber=1)
    assert got["LayerVersionArn"] == layer_arn(name, 1)
    assert got["Version"] == 1
    assert got["Description"] == "first"
    assert got["Content"]["CodeSha256"] == code_sha256(z1)
    assert got["Content"]["CodeSize"] == len(z1)
    got2 = lam.get_layer_version(LayerName=name, VersionNumber=2)
    assert got2["Content"]["CodeSha256"] == code_sha256(z2)

    with pytest.raises(ClientError) as e:
        lam.get_layer_version(LayerName=name, VersionNumber=99)
    assert client_error(e)[:2] == (404, "ResourceNotFoundException")


def test_function_with_bootstrap_in_layer(lam, functions):
    layer = unique_name("rtlayer")
    lz = zip_files({"bootstrap": (LAYER_BOOTSTRAP, 0o755), "share/message.txt": "hello from the layer"})
    arn = lam.publish_layer_version(LayerName=layer, Content={"ZipFile": lz})["LayerVersionArn"]
    # The function's own zip holds only handler code, no bootstrap (ref §1.7: /opt/bootstrap).
    name = functions.create({"handler.sh": ("#!/bin/sh\nprintf handler-ran\n", 0o755)}, prefix="layered", layers=[arn])
    cfg = lam.get_function_configuration(FunctionName=name)
    assert [l["Arn"] for l in cfg.get("Layers", [])] == [arn]
    inv = invoke(lam, name)
    assert inv.function_error is None, inv.payload
    assert inv.json() == {"handler": "handler-ran", "layer": "hello from the layer"}


# ---------------------------------------------------------------------------------------------
# The AWS CLI end to end


def test_aws_cli_function_lifecycle(aws, tmp_path):
    name = unique_name("awscli")
    zpath = tmp_path / "fn.zip"
    zpath.write_bytes(echo_zip())
    created = aws(
        "lambda", "create-function", "--function-name", name, "--runtime", "provided.al2023",
        "--handler", "echo.handler", "--role", ROLE, "--zip-file", f"fileb://{zpath}",
        "--timeout", "5", "--memory-size", "128", "--environment", "Variables={MODE=cli}",
    )  # fmt: skip
    assert created["FunctionArn"] == function_arn(name)
    assert created["CodeSha256"] == code_sha256(zpath.read_bytes())
    aws("lambda", "wait", "function-active-v2", "--function-name", name)

    got = aws("lambda", "get-function", "--function-name", name)
    assert got["Configuration"]["FunctionName"] == name
    assert got["Configuration"]["Environment"] == {"Variables": {"MODE": "cli"}}
    assert got["Configuration"]["Timeout"] == 5
    listed = aws("lambda", "list-functions")
    assert name in [f["FunctionName"] for f in listed["Functions"]]

    meta, body = aws.invoke(name, '{"via":"aws cli"}')
    assert meta["StatusCode"] == 200
    assert meta.get("ExecutedVersion") == "$LATEST"  # ref §2.2
    assert "FunctionError" not in meta
    assert json.loads(body) == {"via": "aws cli"}

    upd = aws("lambda", "update-function-configuration", "--function-name", name, "--memory-size", "256")
    assert upd["MemorySize"] == 256

    assert aws("lambda", "delete-function", "--function-name", name) is None
    gone = aws("lambda", "get-function", "--function-name", name, check=False)
    assert gone.returncode != 0
    assert "ResourceNotFoundException" in gone.stderr
    assert not_found_message(name) in gone.stderr


def test_aws_cli_account_settings_and_layers(aws, tmp_path):
    settings = aws("lambda", "get-account-settings")
    assert settings["AccountLimit"]["CodeSizeZipped"] == 52428800
    assert isinstance(settings["AccountUsage"]["FunctionCount"], int)

    name = unique_name("awslayer")
    zpath = tmp_path / "layer.zip"
    zpath.write_bytes(zip_files({"share/x.txt": "x"}))
    v1 = aws("lambda", "publish-layer-version", "--layer-name", name, "--zip-file", f"fileb://{zpath}")
    v2 = aws("lambda", "publish-layer-version", "--layer-name", name, "--zip-file", f"fileb://{zpath}")
    assert (v1["Version"], v2["Version"]) == (1, 2)
    assert v2["LayerVersionArn"] == layer_arn(name, 2)
    got = aws("lambda", "get-layer-version", "--layer-name", name, "--version-number", "1")
    assert got["LayerVersionArn"] == layer_arn(name, 1)


def test_aws_cli_invoke_unknown_function(aws):
    meta, _ = aws.invoke("nope", "{}", check=False)
    assert meta.returncode != 0
    assert "ResourceNotFoundException" in meta.stderr
    assert "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope" in meta.stderr


# ---------------------------------------------------------------------------------------------
# SigV4


def test_wrong_secret_is_invalid_signature(lam_for, daemon):
    bad = lam_for(daemon, secret_key="wrong-secret")
    with pytest.raises(ClientError) as e:
        bad.list_functions()
    assert client_error(e)[:2] == (403, "InvalidSignatureException")
    with pytest.raises(ClientError) as e:
        bad.invoke(FunctionName="nope", Payload=b"{}")
    assert client_error(e)[:2] == (403, "InvalidSignatureException")  # auth comes before lookup


def test_unknown_access_key_is_unrecognized_client(lam_for, daemon):
    bad = lam_for(daemon, access_key="AKIDUNKNOWNKEY000000", secret_key="test")
    with pytest.raises(ClientError) as e:
        bad.get_account_settings()
    assert client_error(e)[:2] == (403, "UnrecognizedClientException")


def test_aws_cli_wrong_secret(daemon, tmp_path):
    from e2e_util import AwsCli

    bad = AwsCli(daemon.endpoint, tmp_path, secret_key="wrong-secret")
    proc = bad("lambda", "list-functions", check=False)
    assert proc.returncode != 0
    assert "InvalidSignatureException" in proc.stderr


def test_missing_signature_is_403(raw):
    r = raw.send("GET", "/2015-03-31/functions/")
    assert r.status == 403
    assert r.headers.get("x-amzn-errortype"), "AWS error shape: x-amzn-ErrorType header (ref §2.1)"
    assert isinstance(r.json(), dict)


def test_tampered_body_is_invalid_signature(raw, lam, functions):
    # The payload hash is part of the signature: same length, one byte changed.
    name = functions.echo()
    path = f"/2015-03-31/functions/{name}/invocations"
    ok = raw.signed("POST", path, body=b'{"n":1}')
    assert ok.status == 200 and json.loads(ok.body) == {"n": 1}
    r = raw.signed("POST", path, body=b'{"n":1}', send_body=b'{"n":2}')
    assert r.status == 403
    assert r.headers.get("x-amzn-errortype", "").split(":")[0] == "InvalidSignatureException"


def test_expired_signature_is_rejected(raw):
    # Clock-skew limit (AWS: 5 min; a request signed 20 minutes ago is refused with 403).
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    r = raw.signed("GET", "/2015-03-31/functions/", when=when)
    assert r.status == 403
    assert r.headers.get("x-amzn-errortype", "").split(":")[0] in ("InvalidSignatureException", "SignatureExpired", "RequestExpired")


def test_unsigned_payload_accepted(raw):
    r = raw.signed("GET", "/2015-03-31/functions/", unsigned_payload=True)
    assert r.status == 200, r.body
    assert "Functions" in r.json()


def test_signature_with_good_key_accepted_on_raw_path(raw):
    r = raw.signed("GET", "/2016-08-19/account-settings/")
    assert r.status == 200, r.body
    assert "AccountLimit" in r.json()


# ---------------------------------------------------------------------------------------------
# The daemon refuses to expose the development key


def test_refuses_non_loopback_listen_with_development_key(tmp_path):
    if not LAMBDALITE.is_file():
        pytest.fail(f"lambdalite binary not found: {LAMBDALITE}")
    port = free_port()
    proc = subprocess.Popen(
        [str(LAMBDALITE), "serve", "--listen", f"0.0.0.0:{port}", "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("lambdalite serve --listen 0.0.0.0 kept running with the development key enabled")
    assert proc.returncode != 0
    assert err.strip(), "the refusal must say why on stderr"


def test_invoke_by_function_arn(lam, functions):
    name = functions.shell(STREAM_BODY)
    inv = invoke(lam, function_arn(name))
    assert inv.status == 200
    assert inv.instance


def test_arns_carry_the_region_the_request_was_signed_for(daemon, functions):
    # The issue: "ARNs in AWS form with a fixed account id and the request's region".
    from e2e_util import make_lambda_client

    eu = make_lambda_client(daemon.endpoint, region="eu-west-1")
    name = functions.shell(
        """
printf '"%s"' "$(header Lambda-Runtime-Invoked-Function-Arn)" | respond
"""
    )
    cfg = eu.get_function_configuration(FunctionName=name)
    assert cfg["FunctionArn"] == f"arn:aws:lambda:eu-west-1:000000000000:function:{name}"
    out = eu.invoke(FunctionName=name, Payload=b"{}")
    assert json.loads(out["Payload"].read()) == f"arn:aws:lambda:eu-west-1:000000000000:function:{name}"
    with pytest.raises(ClientError) as e:
        eu.get_function(FunctionName="no-such-function-here")
    assert "arn:aws:lambda:eu-west-1:000000000000:function:no-such-function-here" in str(e.value)
