"""The receiver code in docs/integrations.md ("Verifying a webhook") verifies what the deliverer
signs: the Python snippet's package call, and the Node.js function itself, run by node when it is
installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from licenseserver.domain.webhooks.delivery import signed_headers
from tests.webhooks_delivery.receiver import SECRET

DOC = Path(__file__).parents[2] / "docs" / "integrations.md"
BODY = '{"type":"license.created","data":{"license_key":"ÄÖÜ-1"}}'


def _node_function() -> str:
    [code] = re.findall(r"```js\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    return code


def test_the_python_receiver_accepts_a_signed_webhook() -> None:
    assert Webhook(SECRET).verify(BODY.encode(), signed_headers("evt_1", SECRET, BODY)) == json.loads(BODY)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_node_receiver_in_the_docs_accepts_a_signed_webhook_and_refuses_a_changed_one() -> None:
    script = (
        _node_function()
        + "\nconst [secret, headers, body] = process.argv.slice(1);"
        + "\nconsole.log(JSON.stringify(verifyWebhook(secret, JSON.parse(headers), body)));"
        + '\ntry { verifyWebhook(secret, JSON.parse(headers), body + " "); console.log("accepted"); }'
        + ' catch (e) { console.log("refused: " + e.message); }'
    )
    headers = json.dumps(signed_headers("evt_1", SECRET, BODY))
    result = subprocess.run(
        ["node", "-e", script, SECRET, headers, BODY], capture_output=True, text=True, timeout=30, check=True
    )
    verified, changed = result.stdout.splitlines()
    assert json.loads(verified) == json.loads(BODY)
    assert changed == "refused: no matching signature"
