"""Per-call overhead: raw requests floor vs zeep vs mktows-run, against a sandbox in its own
process (limits off, lenient: the sandbox must not be the bottleneck). Also the sandbox's
own capacity (strict and lenient)."""

from __future__ import annotations

import statistics
import tempfile
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from bench.common import Sandbox, attrs, spread, time_runner

ATTRS = attrs(10)


def envelope(info: dict[str, str], i: int) -> str:
    from runner.soap import auth
    from runner.soap import envelope as env

    stamp = auth.w3c_timestamp(datetime.now(UTC))
    sig = auth.sign(stamp, info["user_id"], info["encryption_key"])
    attrs_xml = "".join(f"<attribute><attrName>{k}</attrName><attrValue>{v}</attrValue>"
                        "</attribute>" for k, v in ATTRS.items())
    body = (f'<ns1:paramsSyncLead xmlns:ns1="http://www.marketo.com/mktows/"><leadRecord>'
            f"<Email>raw{i}@example.com</Email><leadAttributeList>{attrs_xml}"
            "</leadAttributeList></leadRecord><returnLead>false</returnLead></ns1:paramsSyncLead>")
    return env.envelope(env.auth_header(info["user_id"], sig, stamp), body)


def raw_floor(info: dict[str, str], calls: int, workers: int) -> float:
    """requests.Session posting pre-built, pre-signed envelopes."""
    bodies = [envelope(info, i).encode() for i in range(calls)]
    headers = {"Content-Type": "text/xml; charset=UTF-8",
               "SOAPAction": '"http://www.marketo.com/mktows/syncLead"'}
    session = requests.Session()

    def post(body: bytes) -> None:
        r = session.post(info["endpoint"], data=body, headers=headers, timeout=30)
        assert r.status_code == 200, r.text[:300]

    return spread(post, bodies, workers)


def zeep_client(info: dict[str, str], calls: int, workers: int) -> float:
    import zeep

    from runner.soap import auth

    client = zeep.Client(info["endpoint"] + "?WSDL")
    header = client.get_element("ns0:AuthenticationHeader")
    service = client.service

    def call(i: int) -> None:
        stamp = auth.w3c_timestamp(datetime.now(UTC))
        sig = auth.sign(stamp, info["user_id"], info["encryption_key"])
        service.syncLead(
            leadRecord={"Email": f"zeep{i}@example.com", "leadAttributeList": {"attribute": [
                {"attrName": k, "attrValue": v} for k, v in ATTRS.items()]}},
            returnLead=False,
            _soapheaders=[header(mktowsUserId=info["user_id"], requestSignature=sig,
                                 requestTimestamp=stamp)])

    return spread(call, range(calls), workers)


SOAP_TARGET = """\
target:
  endpoint: ${env.MKTOWS_ENDPOINT}
  userId: ${env.MKTOWS_USER_ID}
  encryptionKey: ${secret.MKTOWS_ENCRYPTION_KEY}"""


def runner(info: dict[str, str], calls: int, workers: int, work: Path) -> dict[str, float]:
    """mktows-run's own pipeline over SOAP (bench.common.time_runner)."""
    env = {"MKTOWS_ENDPOINT": info["endpoint"], "MKTOWS_USER_ID": info["user_id"],
           "MKTOWS_ENCRYPTION_KEY": info["encryption_key"]}
    return time_runner(work, "perf.yml", SOAP_TARGET, f"mkr{workers}-", calls, workers, {},
                       env, lambda plan: plan.target)


def measure(calls: int, repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {"calls": calls}
    with tempfile.TemporaryDirectory() as tmp, Sandbox(Path(tmp) / "box.db", lenient=True,
                                                      limits=False) as box:
        info = box.info
        for workers in (1, 10):
            samples: dict[str, list[float]] = {"raw": [], "zeep": [], "runner": [],
                                               "runner_prepare": []}
            for _ in range(repeats):  # interleaved: noise hits every candidate alike
                samples["raw"].append(raw_floor(info, calls, workers))
                samples["zeep"].append(zeep_client(info, calls, workers))
                r = runner(info, calls, workers, Path(tmp))
                samples["runner"].append(r["execute_s"])
                samples["runner_prepare"].append(r["prepare_s"])
            med = {k: statistics.median(v) for k, v in samples.items()}
            out[f"concurrency_{workers}"] = {
                "raw_calls_per_s": round(calls / med["raw"], 1),
                "zeep_calls_per_s": round(calls / med["zeep"], 1),
                "runner_calls_per_s": round(calls / med["runner"], 1),
                "runner_prepare_s": round(med["runner_prepare"], 3),
                "runner_vs_raw": round(med["raw"] / med["runner"], 3),
                "runner_vs_zeep": round(med["zeep"] / med["runner"], 3),
            }
    return out


def capacity(calls: int) -> dict[str, Any]:
    """Requests per second the sandbox serves to the raw floor client at 10 in flight."""
    out = {}
    for lenient in (True, False):
        with tempfile.TemporaryDirectory() as tmp, Sandbox(Path(tmp) / "box.db",
                                                          lenient=lenient, limits=False) as box:
            seconds = raw_floor(box.info, calls, 10)
        out["lenient" if lenient else "strict"] = round(calls / seconds, 1)
    return out


if __name__ == "__main__":
    print(textwrap.indent(str(measure(300, 1)), "  "))
