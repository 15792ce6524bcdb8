"""Payment links, wallet deep links and QR renderings."""
from __future__ import annotations

from urllib.parse import unquote

import pytest
import segno

from bot.wallet.links import eip681_call, eip681_payment, eth_to_wei, qr_png, qr_text, wallet_links
from bot.wallet.mismatch import explain_mismatch

ESCROW = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def test_eip681() -> None:
    assert eip681_payment(ESCROW, 8453, 10**18) == f"ethereum:{ESCROW}@8453?value=1e18"
    assert eip681_payment(ESCROW, 1, 1234) == f"ethereum:{ESCROW}@1?value=1234"
    assert eip681_call(ESCROW, 31337, "deposit", value_wei=eth_to_wei("0.25"), args=[("uint256", 42)]) == \
        f"ethereum:{ESCROW}@31337/deposit?value=25e16&uint256=42"
    assert eip681_call(ESCROW, 1, "ping") == f"ethereum:{ESCROW}@1/ping"
    with pytest.raises(ValueError):
        eip681_call(ESCROW, 1, "deposit", args=[("uint7", 1)])
    with pytest.raises(ValueError):
        eip681_payment("0x123", 1, 1)
    with pytest.raises(ValueError):
        eth_to_wei("0.0000000000000000001")


def test_deep_links_carry_the_uri_intact() -> None:
    uri = "wc:" + "a" * 64 + "@2?expiryTimestamp=1&relay-protocol=irn&symKey=" + "b" * 64
    links = {link.wallet: link for link in wallet_links(uri)}
    assert links["MetaMask"].native.startswith("metamask://wc?uri=wc%3A")
    assert links["Trust Wallet"].native.startswith("trust://wc?uri=")
    assert links["Rainbow"].universal.startswith("https://rnbwapp.com/wc?uri=")
    assert links["Any WalletConnect wallet"].universal == uri
    for link in list(links.values())[:-1]:
        for url in (link.native, link.universal):
            encoded = url.split("?uri=", 1)[1]
            assert "&" not in encoded and unquote(encoded) == uri


def test_qr_renderings_hold_the_same_matrix() -> None:
    uri = "wc:" + "a" * 64 + "@2?symKey=" + "b" * 64
    assert qr_png(uri)[:8] == b"\x89PNG\r\n\x1a\n"
    text = qr_text(uri, border=0)
    matrix = [list(row) for row in segno.make(uri, error="m", micro=False).matrix]
    decoded: list[list[bool]] = []
    top_of = {"█": (False, False), "▄": (True, False), "▀": (False, True), " ": (True, True)}
    for line in text.split("\n"):
        pairs = [top_of[c] for c in line]
        decoded.append([p[0] for p in pairs])
        decoded.append([p[1] for p in pairs])
    assert decoded[: len(matrix)] == [[bool(c) for c in row] for row in matrix]


def test_mismatch_messages() -> None:
    me = "0x" + "11" * 20
    accounts = [f"eip155:8453:{me}"]
    assert explain_mismatch(accounts, 8453, me.upper().replace("0X", "0x")) is None
    assert explain_mismatch(accounts, 1, me).startswith("your wallet is on Base (8453), switch it to Ethereum (1)")
    assert explain_mismatch(accounts, 8453, me, current_chain=10) == \
        "your wallet is on OP Mainnet (10), switch it to Base (8453)"
    other = "0x" + "22" * 20
    assert explain_mismatch(accounts, 8453, other).startswith(f"this wallet's account {me} differs from your linked {other}")
    assert "no Ethereum account" in explain_mismatch([], 1, me)
