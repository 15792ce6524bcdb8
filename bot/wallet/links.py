"""Ways to hand a payment or a pairing to the user's wallet: EIP-681 links, wallet deep links, QR codes.

EIP-681 limits, so callers know when to prefer WalletConnect:
- syntax `ethereum:<address>[@<chainId>][/<function>]?value=<wei>&<abi-type>=<arg>...`; function
  arguments are positional and named only by their ABI type, so `deposit(uint256 rentalId)` with
  value 0.5 ETH becomes `ethereum:0xEsc…@8453/deposit?value=5e17&uint256=42`;
- `value` is in wei (scientific notation allowed); `gas`/`gasLimit`/`gasPrice` optional;
- many wallets honour only plain transfers and ERC-20 `transfer`; a contract call with arguments is
  often shown as a bare transfer or refused, so the bot must check the result on chain, never trust
  that the link was followed as written.
"""
from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote

import segno

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_ABI_TYPE = re.compile(r"(address|bool|string|bytes([1-9]|[12][0-9]|3[0-2])?|u?int(8|16|24|32|40|48|56|64|72|80|88|96|104|112|120|128|136|144|152|160|168|176|184|192|200|208|216|224|232|240|248|256)?)")


def _wei(value: int) -> str:
    """Wei as EIP-681 allows: a plain integer, or `<n>e<k>` when that is shorter and exact."""
    if value < 0:
        raise ValueError("value must not be negative")
    text = str(value)
    stripped = text.rstrip("0")
    zeros = len(text) - len(stripped)
    return f"{stripped}e{zeros}" if zeros > 2 and stripped else text


def eip681_payment(to: str, chain_id: int, value_wei: int) -> str:
    """A plain native-coin transfer link."""
    if not _ADDRESS.fullmatch(to):
        raise ValueError("not an address")
    return f"ethereum:{to}@{chain_id}?value={_wei(value_wei)}"


def eip681_call(contract: str, chain_id: int, function: str, *, value_wei: int = 0,
                args: Sequence[tuple[str, object]] = (), gas_limit: int | None = None) -> str:
    """A contract-call link, e.g. eip681_call(escrow, 8453, "deposit", value_wei=…, args=[("uint256", 42)])."""
    if not _ADDRESS.fullmatch(contract):
        raise ValueError("not an address")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", function):
        raise ValueError("not a function name")
    params = [f"value={_wei(value_wei)}"] if value_wei else []
    for abi_type, arg in args:
        if not _ABI_TYPE.fullmatch(abi_type):
            raise ValueError(f"unsupported ABI type {abi_type}")
        params.append(f"{abi_type}={quote(str(arg).lower() if isinstance(arg, bool) else str(arg), safe='')}")
    if gas_limit is not None:
        params.append(f"gasLimit={gas_limit}")
    query = "?" + "&".join(params) if params else ""
    return f"ethereum:{contract}@{chain_id}/{function}{query}"


def eth_to_wei(amount: str | Decimal) -> int:
    wei = Decimal(amount) * 10**18
    if wei != wei.to_integral_value():
        raise ValueError("amount has more than 18 decimals")
    return int(wei)


@dataclass(frozen=True)
class WalletLink:
    wallet: str
    native: str | None       # app scheme: opens the app directly when installed
    universal: str           # https link: works from any chat client


# Deep-link bases from the wallets' WalletConnect registry entries.
_WALLETS = {
    "MetaMask": ("metamask://", "https://metamask.app.link/"),
    "Trust Wallet": ("trust://", "https://link.trustwallet.com/"),
    "Rainbow": ("rainbow://", "https://rnbwapp.com/"),
}


def wallet_links(wc_uri: str) -> list[WalletLink]:
    """Per-wallet links for a pairing URI (`<base>wc?uri=<urlencoded uri>`), plus the bare wc: URI
    which any WalletConnect wallet opens when the OS routes `wc:` to it."""
    encoded = quote(wc_uri, safe="")
    links = [WalletLink(name, f"{native}wc?uri={encoded}", f"{universal}wc?uri={encoded}")
             for name, (native, universal) in _WALLETS.items()]
    links.append(WalletLink("Any WalletConnect wallet", None, wc_uri))
    return links


def qr_png(data: str, *, scale: int = 6, border: int = 2) -> bytes:
    """A PNG of `data` (error correction M) for chat attachments."""
    buf = io.BytesIO()
    segno.make(data, error="m", micro=False).save(buf, kind="png", scale=scale, border=border)
    return buf.getvalue()


def qr_text(data: str, *, border: int = 2) -> str:
    """A QR code as text with half-block characters (two modules a line), for a monospace block.

    Dark modules are drawn as spaces on a light background so it scans on dark-themed terminals too.
    """
    qr = segno.make(data, error="m", micro=False)
    rows = [[bool(cell) for cell in row] for row in qr.matrix_iter(scale=1, border=border)]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    chars = {(False, False): "█", (True, False): "▄", (False, True): "▀", (True, True): " "}
    return "\n".join("".join(chars[(top, bottom)] for top, bottom in zip(rows[i], rows[i + 1]))
                     for i in range(0, len(rows), 2))
