"""One plain line for the failures an operator command meets: an unreachable database or RPC,
a refused login, a timeout. Anything not listed here is a bug and keeps its traceback."""
from __future__ import annotations

from bot.observability.redact import redact


def describe_failure(exc: BaseException) -> str:
    """A short, secret-free description of `exc` (what it is, and the library's own words)."""
    root = getattr(exc, "orig", None) or exc      # sqlalchemy wraps the driver's error,
    for _ in range(5):                            # which may wrap asyncpg's own
        if root.__cause__ is None or not str(root.__cause__):
            break
        root = root.__cause__
    text = "timed out" if isinstance(root, TimeoutError) else " ".join(str(root).split()) or type(root).__name__
    return redact(f"{text[:300]} ({type(root).__name__})")


def is_expected(exc: BaseException) -> bool:
    """Failures of the outside world (network, database, RPC, a refused login), not of the code."""
    import aiohttp
    import sqlalchemy.exc
    from web3.exceptions import Web3Exception

    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.statement is None:
        return True        # refused while connecting: no such database, bad password, server down
    expected: tuple[type[BaseException], ...] = (OSError, TimeoutError, aiohttp.ClientError, Web3Exception,
                                                 sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)
    try:
        import asyncpg
        expected += (asyncpg.PostgresError, asyncpg.InterfaceError)
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        pass
    from bot.wallet.walletconnect.errors import WalletConnectError
    expected += (WalletConnectError,)
    return isinstance(exc, expected)
