"""``HostPass``: one host cell's timed measurement, a ``SampleSource`` for the runner.

The compiled harness (``maplebench-wis``, see ``compiler``) runs the cell's testcase on the
running kernel with will-it-scale's semantics: one real process (``fork``) or thread
(``pthread_create``) per task, round-robin CPU binding (one CPU set per core), each task's
counter alone in a 256-byte slot, a start barrier. The counter area is a memfd created here
and inherited by the harness, which maps it ``MAP_SHARED``: its tasks write their counters into
the very slots that the runner's shared sampling code (``sampling.CounterSampler.samples``) reads,
exactly as for the simulated mms.

Lifetime: the harness dies with this process (``PR_SET_PDEATHSIG``) and its tasks die with the
harness; ``close()`` (leaving the context, Ctrl-C, a failure) sends SIGTERM, the harness kills
and reaps its tasks and exits, and it is reaped here (SIGKILL after a grace period). A task
that fails (a syscall error, a signal) ends the harness with its message on stderr, which
surfaces as ``sampling.WorkerError``.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time

from maple.bench.sampling import CounterSampler, WorkerError, _Area
from maple.errors import InputError
from maple.host import TESTCASES, compiler, sysinfo
from maple.workloads.base import LoopWorkload

_STOP_GRACE = 5.0  # seconds the harness gets to reap its tasks after SIGTERM
_MESSAGE_WAIT = 2.0  # seconds to wait for a failing harness's whole message


class HostPass(CounterSampler):
    """Measure ``workload`` (one of ``maple.host.TESTCASES``) on the running kernel.

    Raises ``InputError`` for a workload without a compiled testcase, or when the harness
    cannot be built (no compiler, compilation failed); ``WorkerError`` when a task fails.
    """

    def __init__(
        self,
        workload: LoopWorkload,
        mode: str,
        tasks: int,
        *,
        affinity: bool = True,
        build: compiler.Build | None = None,
    ) -> None:
        name = workload.name
        if name not in TESTCASES:
            raise InputError(f"--mm host: workload '{name}' has no compiled testcase "
                             f"(host runs {', '.join(TESTCASES)})")
        if mode not in ("processes", "threads"):
            raise InputError(f"unknown mode '{mode}'")
        self.build = build or compiler.build()
        self.testcase = name
        self.mode = mode
        self.cpu_sets = sysinfo.cpu_sets() if affinity else []
        self.proc: subprocess.Popen[bytes] | None = None
        self._stderr = b""
        super().__init__(tasks, _Area(tasks, memfd=True))

    def argv(self, go_fd: int) -> list[str]:
        """The harness command line for this cell."""
        argv = [
            str(self.build.binary), "-t", self.testcase, "-m", self.mode, "-n", str(self.tasks),
            "-a", str(self.area.fd), "-g", str(go_fd), "-p", str(os.getpid()),
        ]
        if self.cpu_sets:
            argv += ["-b", sysinfo.cpu_sets_arg(self.cpu_sets)]
        return argv

    def start(self) -> None:
        """Start the harness and wait until every task is set up (its ready flag is set)."""
        assert self.area.fd is not None
        go_r = self.go_r
        try:
            self.proc = subprocess.Popen(
                self.argv(go_r), pass_fds=(self.area.fd, go_r), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise WorkerError(f"host harness '{self.build.binary}' could not start: {exc}") from None
        finally:
            os.close(go_r)  # only the harness waits on the barrier
            self.go_r = -1
        assert self.proc.stderr is not None
        self.err_r = self.proc.stderr.fileno()
        self.wait_ready()

    # -- failures ------------------------------------------------------------------------

    def _label(self) -> str:
        return f"host {self.testcase} ({self.mode}, {self.tasks} tasks)"

    def _drain(self, deadline: float) -> None:
        """Read the harness's stderr until EOF or ``deadline``."""
        while self.err_r >= 0:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([self.err_r], [], [], left)
            if not ready:
                return
            chunk = os.read(self.err_r, 65536)
            if not chunk:
                return
            self._stderr += chunk

    def _message(self, status: int | None) -> str:
        text = self._stderr.decode("utf-8", "replace").strip()
        if status is None:
            how = "reported"
        elif status < 0:
            how = f"was killed by signal {-status} ({signal.Signals(-status).name})"
        else:
            how = f"exited with status {status}"
        return f"{self._label()}: harness {how}" + (f": {text}" if text else "")

    def _failure_message(self) -> str:
        self._drain(time.monotonic() + _MESSAGE_WAIT)
        status = None
        if self.proc is not None:
            try:
                status = self.proc.wait(_MESSAGE_WAIT)
            except subprocess.TimeoutExpired:
                status = None
        return self._message(status)

    def _reap_message(self) -> str | None:
        if self.proc is None:
            return None
        status = self.proc.poll()
        if status is None:
            return None
        self._drain(time.monotonic() + _MESSAGE_WAIT)
        return self._message(status)

    # -- teardown ------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the harness (SIGTERM: it kills and reaps its tasks), reap it, free the area."""
        try:
            proc = self.proc
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(_STOP_GRACE)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc is not None and proc.stderr is not None:
                proc.stderr.close()
                self.err_r = -1
        finally:
            self._close_fds()
            self.area.close()
