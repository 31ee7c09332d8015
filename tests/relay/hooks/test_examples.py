"""examples/node-red: the flows hold what the relay accepts, and the webhook flow's
function node verifies a real delivery's signature (run with node, as Node-RED runs it:
the function's body with msg, env, node and its crypto library)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from polyptt.relay.events import Event
from polyptt.relay.hooks.pages import page_request
from polyptt.relay.hooks.signing import sign
from polyptt.relay.hooks.webhooks import delivery_body

FLOWS = Path(__file__).resolve().parents[3] / "examples" / "node-red"
SECRET = "the flow's secret, long enough"

HARNESS = """
const crypto = require("crypto");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const env = { get: (name) => name === "POLYPTT_WEBHOOK_SECRET" ? input.secret : undefined };
const warnings = [];
const node = { warn: (text) => warnings.push(text) };
const msg = { payload: Buffer.from(input.body, "utf8"), req: { headers: input.headers }, res: {} };
const run = new Function("msg", "env", "node", "crypto", input.func);
const [out, answer] = run(msg, env, node, crypto);
process.stdout.write(JSON.stringify({
  out: out && { topic: out.topic, payload: out.payload },
  status: answer.statusCode,
  warnings,
}));
"""


def nodes(name: str) -> dict[str, dict[str, Any]]:
    flow = json.loads((FLOWS / name).read_text())
    return {node["id"]: node for node in flow}


def test_the_mqtt_flow_sends_a_page_the_relay_accepts() -> None:
    flow = nodes("page-on-mqtt.json")
    (change,) = [n for n in flow.values() if n["type"] == "change"]
    (out,) = [n for n in flow.values() if n["type"] == "mqtt out"]
    brokers = {n["id"] for n in flow.values() if n["type"] == "mqtt-broker"}
    assert all(n["broker"] in brokers for n in flow.values() if n["type"].startswith("mqtt "))
    payload = change["rules"][0]["to"].encode()
    assert page_request(payload, (26,)) == {
        "channel": 26,
        "say": "Someone is at the front door",
        "chime": True,
        "codec": "g722",
    }
    assert (out["topic"], out["retain"]) == ("polyptt/school/page/set", "false")
    assert change["wires"] == [[out["id"]]]


def run_function(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    (function,) = [n for n in nodes("receive-webhook.json").values() if n["type"] == "function"]
    assert function["libs"] == [{"var": "crypto", "module": "crypto"}]
    given = {"func": function["func"], "secret": SECRET, "body": body.decode(), "headers": headers}
    done = subprocess.run(
        ["node", "-e", HARNESS], input=json.dumps(given), capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_webhook_flow_verifies_a_delivery_and_refuses_a_forgery() -> None:
    (http_in,) = [n for n in nodes("receive-webhook.json").values() if n["type"] == "http in"]
    assert http_in["skipBodyParsing"] is True  # the signature covers the exact bytes
    body = delivery_body(Event("page_started", {"id": 9, "channel": 26, "caller_id": "Zoë"}), "d9")
    stamp = int(time.time())
    headers = {"x-polyptt-timestamp": str(stamp), "x-polyptt-signature": sign(SECRET, stamp, body)}
    good = run_function(body, headers)
    assert good["status"] == 204
    assert good["out"]["topic"] == "page_started"
    assert good["out"]["payload"]["page"] == {"id": 9, "channel": 26, "caller_id": "Zoë"}
    forged = run_function(body.replace(b"26", b"50"), headers)
    assert (forged["out"], forged["status"]) == (None, 401)
    assert forged["warnings"] == ["refused a webhook delivery: bad signature or stale timestamp"]
    old = {**headers, "x-polyptt-timestamp": str(stamp - 600)}
    old["x-polyptt-signature"] = sign(SECRET, stamp - 600, body)
    assert run_function(body, old)["status"] == 401
