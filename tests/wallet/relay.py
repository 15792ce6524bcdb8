"""Moved to devnet.relay (local stand-ins shared with the demo); kept so existing imports work."""
from devnet.relay import *  # noqa: F401,F403
from devnet.relay import Client, LoopbackRelay, Stored  # noqa: F401
