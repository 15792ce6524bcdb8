"""Moved to devnet.sshd (local stand-ins shared with the demo); kept so existing imports work."""
from devnet.sshd import *  # noqa: F401,F403
from devnet.sshd import (DEFAULT_GPUS, FAKE_SMI_SRC, HELPER_SRC, REPO, RUN_PREFIX, SSHD,  # noqa: F401
                         SshdServer, SshdUnavailable, _teardown, cleanup_stale, shared_sshd, start_sshd)
