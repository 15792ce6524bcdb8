"""Private files for the SQLite store: the data directory 0700, the database and its -wal/-shm 0600.

Why here: SQLite creates the database with the process umask (0644 under the usual 022) and gives
its -wal and -shm files the database file's mode. So the database file is created 0600 before
SQLite first opens it, and anything found looser at start (an older install) is tightened with a
warning. The store holds sealed secrets, users' wallets and hosts: nobody else on the machine
needs to read it.
"""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from sqlalchemy import make_url

log = logging.getLogger(__name__)
DIR_MODE = 0o700
FILE_MODE = 0o600
SIDECARS = ("-wal", "-shm", "-journal")


def sqlite_path(url: str) -> Path | None:
    """The database file a sqlite URL names; None for an in-memory database."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database)


def private_dir(path: Path) -> None:
    """Create `path` 0700, or tighten it to 0700 (with a warning) when it is ours and looser."""
    if not path.exists():
        path.mkdir(parents=True, mode=DIR_MODE)
        os.chmod(path, DIR_MODE)   # mkdir's mode goes through the umask; make it exact
        return
    _tighten(path, DIR_MODE, "data directory")


def private_file(path: Path, what: str = "database file") -> None:
    """Create `path` empty 0600 if missing; tighten an existing one to 0600 (with a warning)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        _tighten(path, FILE_MODE, what)
        return
    os.close(fd)
    os.chmod(path, FILE_MODE)


def prepare_sqlite(url: str) -> None:
    """Before SQLite opens the file: its directory exists 0700 (if we create it) and it is 0600."""
    path = sqlite_path(url)
    if path is None:
        return
    if not path.parent.exists():
        private_dir(path.parent)
    private_file(path)
    tighten_sidecars(path)


def tighten_sidecars(path: Path) -> None:
    """-wal, -shm and -journal files left by an older, looser install."""
    for suffix in SIDECARS:
        side = path.with_name(path.name + suffix)
        if side.exists():
            _tighten(side, FILE_MODE, f"database {suffix[1:]} file")


def _tighten(path: Path, mode: int, what: str) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:   # a -shm/-wal removed by SQLite meanwhile
        return
    loose = stat.S_IMODE(st.st_mode) & ~mode & 0o777
    if not loose:
        return
    if st.st_uid != os.geteuid() or (stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX):
        # not ours, or a shared sticky directory like /tmp: changing it would break others
        log.warning("%s %s is readable by others (mode %o) and not ours to change; move the data elsewhere",
                    what, path, stat.S_IMODE(st.st_mode))
        return
    os.chmod(path, stat.S_IMODE(st.st_mode) & mode)
    log.warning("%s %s was mode %o, readable by others; set to %o", what, path, stat.S_IMODE(st.st_mode),
                stat.S_IMODE(st.st_mode) & mode)
