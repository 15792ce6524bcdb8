"""Exceptions a caller can act on, with messages fit to show a chat user as they are.

Wallet JSON-RPC error codes come from EIP-1193 (4001 user rejected, 4100, 4200, 4900, 4901)
and the WalletConnect SDK errors (5000 user rejected, 5100-5104 unsupported, 6000 disconnected).
"""
from __future__ import annotations

from typing import Any


class WalletConnectError(Exception):
    """Base class; `str(exc)` is a plain sentence for the user."""

    code: int | None = None

    def __init__(self, message: str, code: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.detail = detail    # the wallet's own words, for diagnosis (e.g. a contract's error selector)


class UserRejected(WalletConnectError):
    """The user said no in their wallet."""


class UnsupportedRequest(WalletConnectError):
    """The wallet does not support this chain, method or account."""


class WalletError(WalletConnectError):
    """The wallet answered with another error."""


class RequestExpired(WalletConnectError):
    """No answer before the request expired."""


class ProposalExpired(WalletConnectError):
    """The pairing QR code / link was not used in time."""


class SessionGone(WalletConnectError):
    """The session was disconnected or expired."""


class ClientClosing(WalletConnectError):
    """The client is stopping; what was stored (with a context) is resumed by the next start."""


class RelayUnavailable(WalletConnectError):
    """The WalletConnect relay could not be reached."""


class RelayError(WalletConnectError):
    """The relay answered a call with a JSON-RPC error (rate limit, bad topic, ...)."""


_REJECT_CODES = {4001, 5000, 5002}
_UNSUPPORTED_CODES = {4100, 4200, 5100, 5101, 5102, 5103, 5104, 5201, 5202}
_DISCONNECTED_CODES = {4900, 4901, 6000}


def wallet_error(error: Any, *, what: str = "request") -> WalletConnectError:
    """Map a JSON-RPC error object from the wallet to an exception with a plain message.

    The wallet's own message is not shown verbatim (it may be long or technical); the code decides.
    """
    code = error.get("code") if isinstance(error, dict) else None
    if code in _REJECT_CODES:
        text = "you rejected the connection in your wallet" if what == "session" else \
            "you rejected the request in your wallet"
        return UserRejected(text, code)
    if code in _UNSUPPORTED_CODES:
        return UnsupportedRequest(f"your wallet does not support this {what} (code {code})", code)
    if code in _DISCONNECTED_CODES:
        return SessionGone("your wallet is disconnected; link it again with /wallet link", code)
    if code == 8000:
        return RequestExpired("the request expired in your wallet before you answered it", code)
    detail = str(error.get("message", ""))[:500] if isinstance(error, dict) else ""
    return WalletError(f"your wallet could not complete the {what} (code {code})", code, detail)
