"""Named crash points for the crash-safety tests: `GPUFLOW_FAULT_KILL_AT=start-sent` makes the
process SIGKILL itself the first time it reaches `checkpoint("start-sent")`.

Money and access steps must survive a crash at any point (the next process finishes the step
exactly once); the test suite proves it by killing a real bot process at each of these points
and restarting it. Unset (always, in production) a checkpoint is one dictionary lookup.
"""
from __future__ import annotations

import os
import signal

POINTS = (
    "deposit-seen",          # the watcher applied a deposit (committed)
    "account-created",       # the helper made the SSH account; the store does not know yet
    "start-sent",            # the start transaction is out; its hash is journaled
    "start-mined",           # the start is mined; the bot has not recorded it
    "credentials-queued",    # the credentials DM is in the store, not yet delivered
    "end-due",               # a rental's paid time is over; nothing done yet
    "revoked",               # the helper removed the account; the store does not know yet
    "settle-sent",           # the settle transaction is out
)
_KILL_AT = os.environ.get("GPUFLOW_FAULT_KILL_AT")


def checkpoint(name: str) -> None:
    if _KILL_AT is not None and name == _KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)
