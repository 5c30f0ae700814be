"""A private pcscd with the vsmartcard-vpcd driver, and virtual social-security cards.

pcscd is started the way systemd starts it (socket activation: a listening socket on
fd 3 with LISTEN_FDS/LISTEN_PID), on a socket path of our own, with its own
reader.conf.d holding one vpcd reader on a free TCP port. The client library finds it
through PCSCLITE_CSOCK_NAME, which libpcsclite reads once per process; so it is set
here, when this conftest is imported, before any test can talk PC/SC. No systemd, no
/run/pcscd/pcscd.comm, no clash with a system pcscd or a parallel test run.
"""

from __future__ import annotations

import atexit
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PCSCD = shutil.which("pcscd") or ("/usr/sbin/pcscd" if os.path.exists("/usr/sbin/pcscd") else "")
VPCD_LIB = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
READER = "Kiosk Virtual SS"
REPO = Path(__file__).resolve().parents[3]

_RUN_DIR = Path(tempfile.mkdtemp(prefix="kiosk-pcscd-"))
atexit.register(shutil.rmtree, _RUN_DIR, True)
SOCKET_PATH = _RUN_DIR / "pcscd.comm"
os.environ["PCSCLITE_CSOCK_NAME"] = str(SOCKET_PATH)


def _port_pair_free(port: int) -> bool:
    for p in (port, port + 1):  # vpcd opens one port per slot (two slots)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("0.0.0.0", p))
        except OSError:
            return False
        finally:
            s.close()
    return True


def _free_port_pair() -> int:
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200):
        port = rng.randrange(20000, 60000)
        if _port_pair_free(port):
            return port
    raise RuntimeError("no free TCP port pair for vpcd")


class Pcscd:
    """One private pcscd; `stop()`/`start()` model unplugging and re-plugging the reader."""

    def __init__(self) -> None:
        self.port = _free_port_pair()
        self.reader = f"{READER} 00 00"
        self.uri = "pcsc://?reader=" + self.reader.replace(" ", "+")
        self.proc: subprocess.Popen[bytes] | None = None
        self.conf_with = _RUN_DIR / "conf"
        self.conf_without = _RUN_DIR / "conf-empty"
        self.conf_with.mkdir(exist_ok=True)
        self.conf_without.mkdir(exist_ok=True)
        (self.conf_with / "vpcd").write_text(
            f'FRIENDLYNAME "{READER}"\nDEVICENAME /dev/null:0x{self.port:04X}\n'
            f"LIBPATH {VPCD_LIB}\nCHANNELID 0x{self.port:04X}\n")
        self.log = _RUN_DIR / "pcscd.log"

    def start(self, with_reader: bool = True, timeout: float = 15.0) -> None:
        assert self.proc is None
        try:
            SOCKET_PATH.unlink()
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(SOCKET_PATH))
        listener.listen(32)
        os.chmod(SOCKET_PATH, 0o777)
        conf = self.conf_with if with_reader else self.conf_without
        fd = listener.fileno()

        def as_fd3() -> None:  # runs in the child before unlisted fds are closed
            os.dup2(fd, 3)

        with open(self.log, "ab") as log:
            # LISTEN_PID must be pcscd's own pid: let the shell exec into pcscd.
            self.proc = subprocess.Popen(
                ["/bin/sh", "-c", f'LISTEN_PID=$$ LISTEN_FDS=1 exec "{PCSCD}" -f -c "{conf}"'],
                # preexec_fn only dup2()s (no lock, no allocation) in the forked child
                pass_fds=(fd, 3), preexec_fn=as_fd3,  # noqa: PLW1509
                stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)
        # pcscd owns the socket now; without our copy the socket dies with pcscd,
        # so clients see "no service" (not a hang) while it is down.
        listener.close()
        self._wait_ready(with_reader, timeout)

    def _wait_ready(self, with_reader: bool, timeout: float) -> None:
        from smartcard import scard

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"pcscd exited: {self.log.read_text(errors='replace')[-2000:]}")
            hresult, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if hresult == scard.SCARD_S_SUCCESS:
                hresult, readers = scard.SCardListReaders(ctx, [])
                scard.SCardReleaseContext(ctx)
                names = list(readers) if hresult == scard.SCARD_S_SUCCESS else []
                if (self.reader in names) == with_reader:
                    return
            time.sleep(0.05)
        raise RuntimeError("pcscd did not become ready")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        try:
            SOCKET_PATH.unlink()
        except FileNotFoundError:
            pass

    def ensure_running(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            self.start()


@pytest.fixture(scope="session")
def pcscd() -> Iterator[Pcscd]:
    if not PCSCD or not os.path.exists(VPCD_LIB):
        pytest.skip("pcscd or vsmartcard-vpcd not installed (scripts/setup installs them)")
    daemon = Pcscd()
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()
        shutil.rmtree(_RUN_DIR, ignore_errors=True)


class CardProcess:
    """`python -m emulators.vpcd_card` as a child process, driven line by line on stdin."""

    def __init__(self, port: int, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "emulators.vpcd_card", "--port", str(port), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=REPO, text=True, bufsize=1)
        line = self._line(20)
        assert line == "READY", line

    def _line(self, timeout: float) -> str:
        stdout = self.proc.stdout
        assert stdout is not None
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        if not result:
            raise RuntimeError("virtual card did not answer")
        return result[0].strip()

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self._line(20)
        assert reply == "OK", f"{line!r}: {reply}"

    def apdus(self) -> list[bytes]:
        """The command APDUs the card received since it was inserted."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("apdus\n")
        self.proc.stdin.flush()
        reply = self._line(20).split()
        assert reply[:1] == ["OK"], reply
        return [bytes.fromhex(a) for a in reply[1:]]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def _card_process(pcscd: Pcscd) -> Iterator[list[CardProcess]]:
    holder = [CardProcess(pcscd.port)]
    yield holder
    holder[0].close()


@pytest.fixture
def vcard(pcscd: Pcscd, _card_process: list[CardProcess]) -> Iterator[CardProcess]:
    """A virtual card slot (empty, default behaviour) on the private pcscd's vpcd reader."""
    pcscd.ensure_running()
    if _card_process[0].proc.poll() is not None:
        _card_process[0] = CardProcess(pcscd.port)
    card = _card_process[0]
    card.send("reset")
    assert _wait_card_state(pcscd.reader, present=False)
    yield card
    card.send("reset")


def _wait_card_state(reader: str, present: bool, timeout: float = 5.0) -> bool:
    from smartcard import scard

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hresult, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult == scard.SCARD_S_SUCCESS:
            hresult, states = scard.SCardGetStatusChange(
                ctx, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
            scard.SCardReleaseContext(ctx)
            if hresult == scard.SCARD_S_SUCCESS and \
                    bool(states[0][1] & scard.SCARD_STATE_PRESENT) == present:
                return True
        time.sleep(0.05)
    return False


@pytest.fixture
def wait_card_state():  # type: ignore[no-untyped-def]
    return _wait_card_state
