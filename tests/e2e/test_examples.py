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
