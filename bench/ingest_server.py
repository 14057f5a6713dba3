"""gunicorn for the ingest benchmark: started as a subprocess, watched, stopped.

While it runs, a thread samples the resident memory (``VmRSS``) of the master and every
worker; when it stops, each process's own high-water mark (``VmHWM``) is read too, so a
peak between two samples is not missed. CPU time of the same processes is read on demand.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from bench.ingest_gunicorn import READY_DIR_VAR
from sandbox.wiki import free_port
from service.server_options import GUNICORN_OPTIONS

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2
BOOT_SECONDS = 60.0
STOP_SECONDS = 15.0
SAMPLE_SECONDS = 0.02
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Memory:
    """Peak resident memory in KiB: the sum of each process's peak, and the largest worker."""

    total_kib: int
    largest_worker_kib: int
    master_kib: int
    processes: int


class Gunicorn:
    """``with Gunicorn("bench.ingest_apps:bare()", env) as server:`` serves on server.port."""

    def __init__(
        self,
        app: str,
        env: Mapping[str, str],
    ) -> None:
        self.app = app
        self.env = dict(env)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.master_pid = 0
        self._stopped = False
        self._folder = tempfile.TemporaryDirectory(prefix="constellate-ingest-gunicorn-")
        self._log = Path(self._folder.name) / "gunicorn.log"
        self._ready = Path(self._folder.name) / "ready"
        self._peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn",
            "--config", "python:bench.ingest_gunicorn",
            "--workers", str(WORKERS),
            *GUNICORN_OPTIONS,
            "--bind", f"127.0.0.1:{self.port}",
            "--log-level", "warning",
            "--chdir", str(ROOT),
            self.app,
        ]  # fmt: skip

    def __enter__(self) -> Gunicorn:
        self._ready.mkdir()
        env = self.env | {READY_DIR_VAR: str(self._ready)}
        with self._log.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self.master_pid = self.process.pid
        self._sampler.start()
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_until_ready(self) -> None:
        """Every worker has loaded its app (its post_worker_init left a file)."""
        assert self.process is not None
        deadline = time.monotonic() + BOOT_SECONDS
        while len(list(self._ready.iterdir())) < WORKERS:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn {self.app} exited on start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn {self.app} not ready after {BOOT_SECONDS:.0f} s")
            time.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        text = self._log.read_text("utf-8", "replace") if self._log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def pids(self) -> list[int]:
        """The master first, then its workers."""
        if self.process is None or self.process.poll() is not None:
            return []
        master = self.process.pid
        try:
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        except OSError:
            children = []
        return [master, *map(int, children)]

    def cpu_seconds(self) -> float:
        """User + system CPU of the master and the workers alive now."""
        ticks = 0
        for pid in self.pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / CLOCK_TICKS

    def memory(self) -> Memory:
        workers = [kib for pid, kib in self._peaks.items() if pid != self.master_pid]
        return Memory(
            total_kib=sum(self._peaks.values()),
            largest_worker_kib=max(workers, default=0),
            master_kib=self._peaks.get(self.master_pid, 0),
            processes=len(self._peaks),
        )

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._read_memory("VmRSS:")

    def _read_memory(self, field: str) -> None:
        for pid in self.pids():
            kib = _status_kib(pid, field)
            if kib > self._peaks.get(pid, 0):
                self._peaks[pid] = kib

    def stop(self) -> None:
        if self.process is None or self._stopped:
            return
        self._stopped = True
        self._read_memory("VmHWM:")
        self._stop.set()
        if self._sampler.is_alive():
            self._sampler.join()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._folder.cleanup()


def _status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
