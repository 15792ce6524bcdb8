"""A real OpenSSH server set up like a provider host, for the SSH tests and the demo.

It runs as root on a free loopback port with its own host key and config, a provider account
whose only root power is the shipped gpuflow-helper through sudo, and a fake nvidia-smi.
Everything lives in /run/gpuflow-sshd-<pid> (sshd reads key files as the target user, so the
tree must be world-readable; pytest's tmp dirs are 0700), and the renter UIDs are a range of
this run's own, so two runs at once never touch each other's accounts. Leftovers of a run
that died are cleaned up by the next one.

`start_fleet(n)` sets up n such hosts at once (for the fleet bench): each its own sshd, port,
host key, provider account, helper copy, state and UID range, all reached at one helper path
as separate machines are (the bot has one `ssh.helper_path` for every host). Each sshd runs in
its own mount namespace where that path is its own helper directory, so the helper finds its
own gpuflow-helper.conf beside it. Unlike separate machines they share /etc/passwd.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from bot.ssh.keys import KeyPair, generate_keypair, load_private_key
from bot.ssh.target import HostTarget

REPO = Path(__file__).resolve().parents[1]          # the repository (devnet/ is installed editable)
HELPER_SRC = Path(str(files("bot.ssh") / "gpuflow-helper"))   # what /host add attaches
FAKE_SMI_SRC = Path(__file__).resolve().parent / "fake_nvidia_smi"
RUN_PREFIX = "gpuflow-sshd-"
SSHD = "/usr/sbin/sshd"  # sshd refuses to start (re-exec) unless run by absolute path
DEFAULT_GPUS = "NVIDIA GeForce RTX 4090, 24564 MiB\n"
MAX_PROCS = 256      # the renters' process cap in the test host (the helper's default is 4096)


class SshdUnavailable(RuntimeError):
    pass


@dataclass
class SshdServer:
    base: Path
    port: int
    provider_user: str
    host_key: str                     # "type base64" as pinned
    bot_key: KeyPair = field(repr=False)
    uid_min: int
    uid_max: int
    proc: subprocess.Popen | None = None
    max_procs: int = MAX_PROCS
    helper_at: str | None = None      # the path sessions see the helper at (start_fleet), if not its own

    @property
    def helper(self) -> str:
        """Where the bot calls the helper (through sudo, in this host's sessions)."""
        return self.helper_at or self.helper_copy

    @property
    def helper_copy(self) -> str:
        return str(self.base / "sbin" / "gpuflow-helper")

    @property
    def key_dir(self) -> Path:
        return self.base / "keys"

    @property
    def known_hosts(self) -> Path:
        return self.base / "known_hosts"

    def target(self, host_key: str | None | bool = True, **kw) -> HostTarget:
        pin = self.host_key if host_key is True else (None if host_key is False else host_key)
        return HostTarget("127.0.0.1", self.port, self.provider_user, load_private_key(self.bot_key.private_openssh),
                          pin, helper=self.helper, **kw)

    def set_gpus(self, text: str) -> None:
        path = self.base / "bin" / "gpus.txt"
        path.write_text(text)
        path.chmod(0o644)

    def run_helper(self, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
        """Call the helper directly as root, bypassing the Python side (to test its own checks)."""
        return subprocess.run([self.helper_copy, *args], input=stdin, capture_output=True, timeout=60)

    def renters(self) -> list[str]:
        out = self.run_helper("list")
        assert out.returncode == 0, out.stderr
        return out.stdout.decode().split()

    @staticmethod
    def user_exists(name: str) -> bool:
        try:
            pwd.getpwnam(name)
            return True
        except KeyError:
            return False

    def ssh(self, user: str, key_file: Path, command: str, timeout: float = 20) -> subprocess.CompletedProcess:
        """Log in with the real OpenSSH client: batch mode, our own known_hosts, only this key."""
        argv = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "ConnectTimeout=10",
                "-i", str(key_file), "-p", str(self.port), f"{user}@127.0.0.1", command]
        return subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def authorize(self, public_key: str) -> None:
        """Install a bot key for the provider account (as a provider does with the /host add text)."""
        keys = self.base / "prov" / ".ssh" / "authorized_keys"
        line = f"restrict {public_key.strip()}\n"
        if line not in keys.read_text():
            with keys.open("a") as f:
                f.write(line)

    def stop(self) -> None:
        _teardown(self.base)
        if self.proc is not None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60)


def _teardown(base: Path) -> None:
    """Undo one fixture: stop sshd, remove its renters and provider account, its sudoers file."""
    meta_path = base / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    _stop_reaper(base, meta.get("helper_at"))
    pidfile = base / "sshd.pid"
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass
    helper = base / "sbin" / "gpuflow-helper"
    if helper.exists():
        listed = subprocess.run([str(helper), "list"], capture_output=True, text=True, timeout=60)
        for user in listed.stdout.split():
            subprocess.run([str(helper), "revoke", user], capture_output=True, timeout=60)
    if meta.get("provider_user"):
        subprocess.run(["pkill", "-KILL", "-u", meta["provider_user"]], capture_output=True)
        subprocess.run(["userdel", "-f", meta["provider_user"]], capture_output=True)
        subprocess.run(["groupdel", meta["provider_user"]], capture_output=True)
    if meta.get("sudoers"):
        Path(meta["sudoers"]).unlink(missing_ok=True)
    shutil.rmtree(base, ignore_errors=True)


def _stop_reaper(base: Path, helper_at: str | None = None) -> None:
    """The helper's reaper outlives sshd by design; this run's one goes with the run."""
    try:
        pid = int((base / "state" / "reaper.pid").read_text().strip())
        if (helper_at or str(base)) in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
            os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError):
        pass


def cleanup_stale() -> None:
    """Remove what earlier runs that died left behind (their owning process is gone)."""
    for base in Path("/run").glob(RUN_PREFIX + "*"):
        try:
            owner = int(base.name[len(RUN_PREFIX):].split("-")[0])     # <pid> or <pid>-<part>
            os.kill(owner, 0)
            continue  # still running: not ours to touch
        except ProcessLookupError:
            _teardown(base)
        except ValueError:
            continue


_shared: SshdServer | None = None
_shared_users = 0


@contextmanager
def shared_sshd() -> Iterator[SshdServer]:
    """One server per test process for every suite that needs one: start_sshd owns paths named
    after the pid, so two servers in one process would tear each other down."""
    global _shared, _shared_users
    if _shared is None:
        _shared = start_sshd()
    _shared_users += 1
    try:
        yield _shared
    finally:
        _shared_users -= 1
        if _shared_users == 0:
            _shared.stop()
            _shared = None


def _preflight(*tools: str | None) -> None:
    if os.geteuid() != 0:
        raise SshdUnavailable("the SSH tests need root (they create system accounts and run sshd)")
    for tool in (SSHD, shutil.which("ssh"), shutil.which("sudo"), "/usr/bin/python3", *tools):
        if not tool or not os.path.exists(tool):
            raise SshdUnavailable("openssh-server, openssh-client, sudo and python3 are needed: "
                                  "run `bash scripts/system-deps.sh` as root")
    cleanup_stale()


def start_sshd() -> SshdServer:
    _preflight()
    pid = os.getpid()
    base = Path("/run") / f"{RUN_PREFIX}{pid}"
    if base.exists():
        _teardown(base)
    try:
        return _setup(base, str(pid), _free_uid_range(3_000_000 + (pid % 4_000) * 1_000))
    except BaseException:
        _teardown(base)
        raise


@dataclass
class Fleet:
    """Several provider hosts on this machine behind one helper path (see the module's docstring)."""
    servers: list[SshdServer]
    shared: Path

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        shutil.rmtree(self.shared, ignore_errors=True)


def start_fleet(n: int) -> Fleet:
    _preflight(shutil.which("unshare"), shutil.which("mount"))
    pid = os.getpid()
    shared = Path("/run") / f"{RUN_PREFIX}{pid}-fleet"
    (shared / "sbin").mkdir(mode=0o755, parents=True, exist_ok=True)      # each sshd mounts its own here
    shared.chmod(0o755)
    fleet, blocks = Fleet([], shared), set()
    try:
        for i in range(n):
            base = Path("/run") / f"{RUN_PREFIX}{pid}-h{i}"
            if base.exists():
                _teardown(base)
            uid_min = _free_uid_range(3_000_000 + ((pid + 7 * i) % 4_000) * 1_000, blocks)
            blocks.add(uid_min // 1000)
            try:
                fleet.servers.append(_setup(base, f"{pid}h{i}", uid_min,
                                            helper_at=str(shared / "sbin" / "gpuflow-helper")))
            except BaseException:
                _teardown(base)
                raise
    except BaseException:
        fleet.stop()
        raise
    return fleet


def _free_uid_range(first: int, taken: set[int] = frozenset()) -> int:
    """A block of 1000 UIDs that no account and no process (a dead run's zombie, say) holds."""
    used = {pw.pw_uid // 1000 for pw in pwd.getpwall()}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            used.update(int(u) // 1000 for line in status.read_text().splitlines() if line.startswith("Uid:")
                        for u in line.split()[1:])
        except (OSError, ValueError):
            continue
    block = first // 1000
    while block in used or block in taken:
        block = 3_000 + (block - 3_000 + 1) % 4_000
    return block * 1000


def _setup(base: Path, tag: str, uid_min: int, helper_at: str | None = None) -> SshdServer:
    provider = f"gftp{tag}"[:32]
    sudoers = f"/etc/sudoers.d/gpuflow_test_{tag}"
    helper = helper_at or str(base / "sbin" / "gpuflow-helper")
    for d in (base, base / "sbin", base / "bin", base / "home", base / "state", base / "prov"):
        d.mkdir(mode=0o755, parents=True, exist_ok=True)
        d.chmod(0o755)
    (base / "meta.json").write_text(json.dumps({"provider_user": provider, "sudoers": sudoers, "helper_at": helper_at}))
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    _sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gpuflow-test-host",
        "-f", str(base / "ssh_host_ed25519_key"))
    host_pub = " ".join((base / "ssh_host_ed25519_key.pub").read_text().split()[:2])

    shutil.copyfile(HELPER_SRC, base / "sbin" / "gpuflow-helper")
    (base / "sbin" / "gpuflow-helper").chmod(0o755)
    (base / "sbin" / "gpuflow-helper.conf").write_text("\n".join([
        f"key_dir = {base}/keys", f"home_base = {base}/home", f"state_dir = {base}/state",
        f"uid_min = {uid_min}", f"uid_max = {uid_min + 999}", f"nvidia_smi = {base}/bin/nvidia-smi",
        f"renter_shell = {base}/lib/renter-shell", f"max_procs = {MAX_PROCS}", "sweep_interval = 30", ""]))
    (base / "sbin" / "gpuflow-helper.conf").chmod(0o644)
    shutil.copyfile(FAKE_SMI_SRC, base / "bin" / "nvidia-smi")
    (base / "bin" / "nvidia-smi").chmod(0o755)

    bot_key = generate_keypair("gpuflow-test-bot")
    if SshdServer.user_exists(provider):
        _sh("userdel", "-f", provider, check=False)
    _sh("useradd", "-M", "-d", str(base / "prov"), "-s", "/bin/sh", "-p", "*", "-c", "gpuflow test provider", provider)
    ssh_dir = base / "prov" / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    (ssh_dir / "authorized_keys").write_text(f"restrict {bot_key.public}\n")
    pw = pwd.getpwnam(provider)
    for p in (base / "prov", ssh_dir, ssh_dir / "authorized_keys"):
        os.chown(p, pw.pw_uid, pw.pw_gid)
    (ssh_dir / "authorized_keys").chmod(0o600)

    tmp_sudoers = Path(sudoers + ".tmp")  # sudo ignores names with a dot while we write
    tmp_sudoers.write_text(f"{provider} ALL=(root) NOPASSWD: {helper}\n")
    tmp_sudoers.chmod(0o440)
    _sh("visudo", "-cf", str(tmp_sudoers))
    tmp_sudoers.rename(sudoers)

    port = _free_port()
    (base / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub}\n")
    config = base / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {base}/ssh_host_ed25519_key",
        f"PidFile {base}/sshd.pid", "UsePAM no", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes", "AuthorizedKeysFile .ssh/authorized_keys", "StrictModes yes",
        f"AllowUsers {provider} r_*", "MaxStartups 200:30:400", "MaxSessions 30", "LoginGraceTime 30",
        "PerSourcePenalties no", "LogLevel VERBOSE",
        "Match User r_*", f"    AuthorizedKeysFile {base}/keys/%u", ""]))
    check = _sh(SSHD, "-t", "-f", str(config), check=False)
    if check.returncode != 0 and "PerSourcePenalties" in check.stderr:  # option exists from OpenSSH 9.8
        config.write_text(config.read_text().replace("PerSourcePenalties no\n", ""))
        check = _sh(SSHD, "-t", "-f", str(config), check=False)
    if check.returncode != 0:
        raise SshdUnavailable(f"sshd rejects the test config: {check.stderr.strip()}")
    argv = [SSHD, "-D", "-e", "-f", str(config)]
    if helper_at is not None:     # its own mount namespace: the shared helper path is this host's copy
        argv = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                'mount --bind "$0" "$1" && shift && exec "$@"', str(base / "sbin"), str(Path(helper_at).parent), *argv]
    with open(base / "sshd.log", "wb") as log:   # sshd keeps its own copy of the descriptor
        proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(64).startswith(b"SSH-2.0-"):
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SshdUnavailable(f"sshd did not start: {(base / 'sshd.log').read_text()[-500:]}")
        time.sleep(0.05)
    server = SshdServer(base=base, port=port, provider_user=provider, host_key=host_pub, bot_key=bot_key,
                        uid_min=uid_min, uid_max=uid_min + 999, proc=proc, helper_at=helper_at)
    server.set_gpus(DEFAULT_GPUS)
    return server
