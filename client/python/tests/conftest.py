"""Fixtures: a real gearkv-server process on a free loopback port, and a Client to it.

The binary is $GEARKV_SERVER_BIN, default <repo>/build/server/gearkv-server. When it does not
exist, the tests that need a server are skipped with a message saying so (CI always builds
it); the other tests (keys, cache helpers, tensor conversions) still run. Extra server flags
can be given in $GEARKV_SERVER_ARGS (space separated).
"""
from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
import uuid

import pytest

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DEFAULT_BIN = os.path.join(REPO, "build", "server", "gearkv-server")
READY = re.compile(r"gearkv-server listening on (\S+)")


def server_binary() -> str:
    return os.environ.get("GEARKV_SERVER_BIN", DEFAULT_BIN)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A gearkv-server child process; `address` is host:port once started."""

    def __init__(self, binary: str, extra_args: list[str]):
        self.binary = binary
        self.port = free_port()
        self.args = [binary, f"--listen=127.0.0.1:{self.port}", "--metrics_port=0",
                     *shlex.split(os.environ.get("GEARKV_SERVER_ARGS", "")), *extra_args]
        self.address = f"127.0.0.1:{self.port}"
        self.output: list[str] = []
        self._ready = threading.Event()
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, bufsize=1)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self.output.append(line)
            m = READY.search(line)
            if m and not self._ready.is_set():
                addr = m.group(1)
                if not addr.endswith(":0"):
                    self.address = addr.replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]")
                self._ready.set()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ready.wait(0.1):
                return
            if self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"gearkv-server did not become ready ({' '.join(self.args)}); "
                           f"exit code {self.proc.returncode}; output:\n{''.join(self.output)}")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        return self.proc.returncode


@pytest.fixture(scope="session")
def server():
    binary = server_binary()
    if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
        pytest.skip(f"gearkv-server binary not found at {binary}: build it "
                    "(ninja -C build gearkv-server) or set GEARKV_SERVER_BIN")
    proc = ServerProcess(binary, [])
    proc.wait_ready()
    yield proc
    proc.stop()


@pytest.fixture()
def client(server):
    import gearkv

    # A fresh namespace per test keeps tests independent on the shared server.
    with gearkv.Client(server.address, namespace=f"test/{uuid.uuid4().hex[:12]}",
                       timeout=60.0) as c:
        c.wait_ready(timeout=20)
        yield c
