"""Our crypto, JWT and URI code against the official @walletconnect packages, value for value."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from bot.wallet.walletconnect import crypto
from bot.wallet.walletconnect.auth import ClientIdentity, verify_jwt
from bot.wallet.walletconnect.uri import PairingUri
from tests.wallet.conftest import needs_node
from tests.wallet.node_wallet import ROOT

pytestmark = needs_node


def run_vectors(payload: dict) -> dict:
    script = ROOT / "tests" / "wallet" / "vectors.mjs"
    done = subprocess.run([shutil.which("node") or "node", str(script), json.dumps(payload)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def test_primitives_match_the_js_sdk() -> None:
    ours, theirs = crypto.generate_key_pair(), crypto.generate_key_pair()
    sym_key = crypto.generate_sym_key()
    iv = os.urandom(12)
    message = json.dumps({"id": 1, "jsonrpc": "2.0", "method": "wc_sessionPing", "params": {"é": "✓"}})
    identity = ClientIdentity.generate()
    uri = PairingUri(topic=crypto.topic_for(sym_key), sym_key=sym_key, expiry_timestamp=1_800_000_000)
    js = run_vectors({
        "privateKey": ours.private_key.hex(), "peerPublicKey": theirs.public_key.hex(), "symKey": sym_key.hex(),
        "iv": iv.hex(), "message": message, "pythonEnvelope": crypto.encrypt(sym_key, message),
        "uri": uri.format(), "pythonJwt": identity.sign_jwt("wss://relay.example"), "seed": identity.seed.hex(),
    })
    assert js["symKey"] == crypto.derive_sym_key(ours.private_key, theirs.public_key).hex()
    assert js["symKey"] == crypto.derive_sym_key(theirs.private_key, ours.public_key).hex()
    assert js["topic"] == crypto.topic_for(sym_key)
    assert js["type0"] == crypto.encrypt(sym_key, message, iv=iv)
    assert js["type1"] == crypto.encrypt(sym_key, message, iv=iv, sender_public_key=theirs.public_key)
    assert crypto.decrypt(sym_key, js["type1"]) == message
    assert js["decrypted"] == message
    assert js["parsedUri"]["topic"] == uri.topic and js["parsedUri"]["symKey"] == sym_key.hex()
    assert js["parsedUri"]["expiryTimestamp"] == 1_800_000_000
    assert js["parsedUri"]["relay"]["protocol"] == "irn"
    assert js["formattedUri"] == uri.format()
    assert js["pythonJwtValid"] is True
    assert js["iss"] == identity.client_id
    assert verify_jwt(js["jsJwt"])["iss"] == identity.client_id
    # Same seed, same header/payload layout: the whole JWT except the random `sub` must agree.
    assert js["jsJwt"].split(".")[0] == identity.sign_jwt("x").split(".")[0]
