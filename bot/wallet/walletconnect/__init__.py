"""A dApp-side WalletConnect v2 (Sign API) client for asyncio.

Self-contained (cryptography + websockets only) so it can be published on its own.
"""
from .auth import ClientIdentity
from .client import SignClient
from .pending import PendingSession
from .wire import chain_ref
from .errors import (ProposalExpired, RelayError, RelayUnavailable, RequestExpired, SessionGone, UnsupportedRequest,
                     UserRejected, WalletConnectError, WalletError)
from .relay import DEFAULT_RELAY_URL, RelayClient
from .session import Session
from .store import FileBackend, MemoryBackend, SealedStore, SessionStore
from .uri import PairingUri

__all__ = [
    "ClientIdentity", "PendingSession", "SignClient", "chain_ref", "ProposalExpired", "RelayError", "RelayUnavailable",
    "RequestExpired", "SessionGone", "UnsupportedRequest", "UserRejected", "WalletConnectError", "WalletError",
    "DEFAULT_RELAY_URL", "RelayClient", "Session", "FileBackend", "MemoryBackend", "SealedStore", "SessionStore",
    "PairingUri",
]
