"""Moved to devnet.anvil (local stand-ins shared with the demo); kept so existing imports work."""
from devnet.anvil import *  # noqa: F401,F403
from devnet.anvil import ANVIL_BIN, ANVIL_KEYS, NODE_MODULES, ROOT, Anvil, free_port, start_anvil  # noqa: F401
