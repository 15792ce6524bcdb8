"""Moved to devnet.node_wallet (local stand-ins shared with the demo); kept so existing imports work."""
from devnet.node_wallet import *  # noqa: F401,F403
from devnet.node_wallet import ROOT, SCRIPT, NodeWallet  # noqa: F401
