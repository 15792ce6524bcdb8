"""Several provider hosts at once: one real sshd (devnet.sshd) per child process.

start_sshd keys its paths and renter UID range on the process id, so one process holds one
server; a fleet starts each in a process of its own that hands its details back and then waits,
and tears it down when told to stop (or when the parent dies: it watches its stdin).
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

from bot.ssh.keys import KeyPair
from devnet.sshd import SshdServer

ROOT = Path(__file__).resolve().parents[1]


class Fleet:
    def __init__(self, count: int) -> None:
        self.procs: list[subprocess.Popen] = []
        self.servers: list[SshdServer] = []
        try:
            for _ in range(count):          # one after the other: each picks a free UID block
                proc = subprocess.Popen([sys.executable, "-m", "devnet.fleet"], cwd=ROOT, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
                self.procs.append(proc)
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError("a fleet host did not start (is this root, with openssh-server?)")
                data = json.loads(line)
                key = data.pop("bot_key")
                data["base"] = Path(data["base"])
                self.servers.append(SshdServer(**data, bot_key=KeyPair(key["public"], bytes.fromhex(key["private"]))))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.stdin.close()          # the child tears its server down and exits
        for proc in self.procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()

    def __enter__(self) -> "Fleet":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _serve() -> None:
    from devnet.sshd import start_sshd

    server = start_sshd()
    try:
        data = {f.name: getattr(server, f.name) for f in fields(server) if f.name not in ("proc", "bot_key")}
        data["base"] = str(server.base)
        data["bot_key"] = {"public": server.bot_key.public, "private": server.bot_key.private_openssh.hex()}
        print(json.dumps(data), flush=True)
        sys.stdin.read()                     # until the parent closes it (or dies)
    finally:
        server.stop()


if __name__ == "__main__":
    _serve()
