"""A private PostgreSQL for development and tests when no `DATABASE_URL` is given.

Uses the machine's `initdb`/`pg_ctl` binaries (or the `pgserver` package when installed), keeps
its files in a folder under the checkout, and listens on 127.0.0.1 at a free port.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import pwd
import shutil
import socket
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

logger = logging.getLogger(__name__)

MACHINE_SERVER_URL: Final = "postgresql://postgres@127.0.0.1:5432/postgres"
# Debian puts the server binaries outside PATH.
BINARY_GLOBS: Final = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin")


@dataclass(frozen=True, slots=True, kw_only=True)
class EmbeddedPostgres:
    """A running private server."""

    data_dir: Path
    """Its cluster folder."""
    port: int
    """The TCP port on 127.0.0.1."""
    pg_ctl: str
    """The `pg_ctl` binary that started it."""
    run_as: str | None
    """The user it runs as when we are root (PostgreSQL refuses to run as root)."""

    @property
    def url(self) -> str:
        """libpq URL of the `postgres` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start the server on its files and port (again, after `stop`).

        Raises:
            RuntimeError: it did not start; the message names its log.
        """
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data_dir}"
            " -c fsync=off"
        )
        command = [self.pg_ctl, "-D", str(self.data_dir), "-o", options]
        command += ["-l", str(self.data_dir / "server.log"), "-w", "start"]
        try:
            _run(self.run_as, command)
        except subprocess.CalledProcessError as error:
            raise RuntimeError(
                f"the embedded PostgreSQL in {self.data_dir} did not start:"
                f" {_last_line(self.data_dir)} (see {self.data_dir / 'server.log'});"
                " or set DATABASE_URL to a running server"
            ) from error

    def stop(self, *, immediate: bool = False) -> None:
        """Stop the server (fast shutdown; `immediate`: as a crash, recovered at start).

        Its files stay for the next start.
        """
        mode = "immediate" if immediate else "fast"
        _run(
            self.run_as,
            [self.pg_ctl, "-D", str(self.data_dir), "-m", mode, "-w", "stop"],
        )


def is_answering(host: str = "127.0.0.1", port: int = 5432) -> bool:
    """Tell whether something accepts TCP connections at host:port."""
    with (
        contextlib.suppress(OSError),
        socket.create_connection((host, port), timeout=0.5),
    ):
        return True
    return False


def start_embedded(data_dir: Path) -> EmbeddedPostgres:
    """Initialise (once) and start a private server in `data_dir`.

    Raises:
        RuntimeError: no PostgreSQL binaries were found, the server in `data_dir` is
            already running (another `make run` in this checkout), or it did not start;
            each message says what to do.
    """
    bin_dir = _find_binaries()
    _refuse_if_running(data_dir)
    run_as = _unprivileged_user()
    data_dir.mkdir(parents=True, exist_ok=True)
    if run_as:
        shutil.chown(data_dir, user=run_as)
        _let_through(data_dir.resolve().parent)
    if not (data_dir / "PG_VERSION").exists():
        _run(
            run_as,
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )
    server = EmbeddedPostgres(
        data_dir=data_dir,
        port=_free_port(),
        pg_ctl=str(bin_dir / "pg_ctl"),
        run_as=run_as,
    )
    server.start()
    logger.info(
        "embedded postgresql started",
        extra={"port": server.port, "data_dir": str(data_dir)},
    )
    return server


def _refuse_if_running(data_dir: Path) -> None:
    """A second server on the same files cannot start; say so before trying."""
    lock = data_dir / "postmaster.pid"
    try:
        pid = int(lock.read_text(encoding="utf-8").split()[0])
    except (OSError, ValueError, IndexError):
        return
    if not _is_alive(pid):
        return  # a crash left the file; pg_ctl start replaces it
    raise RuntimeError(
        f"the embedded PostgreSQL in {data_dir} is already running (pid {pid}), most"
        " likely for another `make run` or `knflow dev` in this folder: stop that one"
        " with Ctrl-C, or set DATABASE_URL to use another server"
    )


def _is_alive(pid: int) -> bool:
    """Whether `pid` runs and, where /proc tells, is a PostgreSQL server (not a reused pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        return "postgres" in Path(f"/proc/{pid}/comm").read_text()
    return True


def _last_line(data_dir: Path) -> str:
    with contextlib.suppress(OSError):
        lines = (data_dir / "server.log").read_text(errors="replace").splitlines()
        for line in reversed(lines):
            if line.strip():
                return line.strip()
    return "no log was written"


def binaries_folder() -> Path:
    """Return the folder of the server binaries (initdb, pg_ctl, pg_dump).

    Raises:
        RuntimeError: none were found.
    """
    return _find_binaries()


def _find_binaries() -> Path:
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    for pattern in BINARY_GLOBS:
        for folder in sorted(glob.glob(pattern), reverse=True):
            if (Path(folder) / "initdb").exists():
                return Path(folder)
    raise RuntimeError(
        "no PostgreSQL server binaries (initdb, pg_ctl) found: install PostgreSQL"
        " or set DATABASE_URL to a running server"
    )


def _unprivileged_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError(
        "running as root and no 'postgres' user exists to run PostgreSQL as"
    )


def _let_through(folder: Path) -> None:
    """Let the server's user pass through root's private folders on the way to its data.

    Running as root, PostgreSQL runs as another user, which must traverse every folder
    above its data directory; a checkout under a private folder (`mktemp -d` makes them
    0700) would make initdb fail. Each such folder gets execute (traverse) permission for
    others only: its contents stay unlistable.
    """
    for current in (folder, *folder.parents):
        mode = current.stat().st_mode
        if mode & stat.S_IXOTH or current.stat().st_uid != os.geteuid():
            continue
        current.chmod(mode | stat.S_IXOTH)
        logger.info(
            "folder made traversable for postgresql", extra={"folder": str(current)}
        )


def _run(run_as: str | None, command: list[str]) -> None:
    if run_as:
        command = ["runuser", "-u", run_as, "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
