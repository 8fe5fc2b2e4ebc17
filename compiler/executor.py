"""Where the draws of a many-simulation command run: in this process, on a local Dask cluster
(`--workers N`), or on an existing one (`--scheduler tcp://HOST:PORT`, or the environment
variable DENSEAMC_SCHEDULER). `montecarlo`, `sweep` and `check` on a netlist backend all go
through `run_jobs`.

The work is a list of `Job`s: a picklable module-level function `run(payload, start, stop)`
that returns one result per draw start..stop-1 (a chunk of draws), and its payload (what a
chunk needs: the realisable circuit, the test vectors; shipped once to each cluster, not once
per chunk). Results come back in job and draw order, whatever ran them and in which order, so
the output of a command does not depend on where it ran.

Faults. A chunk that raises is run again, up to `retries` more times (Dask's `retries=`); a
worker process that dies is replaced by the scheduler, which runs its chunks elsewhere. A chunk
that fails every retry is cut into single draws, each run again with the same retries, so one
bad draw does not take its chunk with it; a draw that still fails becomes a `FailedDraw` with
the last error's message, which the commands report by name. A hung simulator is ended by the
time limit (`timeout_s`) the netlist runners apply to each simulator process
(`backends/runners.py`), which makes its chunk raise and so be retried.

The local cluster (processes, one thread each: the simulators are single-threaded and numpy
threads only contend) lives in a temporary directory of its own; it is closed and the
directory removed when the command ends, Ctrl-C included. Dask is imported only here and only
when a cluster is asked for: the in-process path needs no optional extra.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from denseamc.ir import usage_error

__all__ = ["SCHEDULER_ENV", "FailedDraw", "Job", "Where", "run_jobs"]

P = TypeVar("P")
R = TypeVar("R")

SCHEDULER_ENV = "DENSEAMC_SCHEDULER"
DASK_INSTALL = "pip install 'denseamc[dist]'  (dask and distributed)"


@dataclass(frozen=True)
class Where:
    """Where the jobs run: `workers` > 0 starts a local cluster of that many processes;
    `scheduler` (an address) uses an existing cluster; neither runs them in this process.
    `retries`: extra attempts of a failed chunk (and then of each of its draws).
    `timeout_s`: the time limit of one simulator run (netlist backends), s."""

    workers: int = 0
    scheduler: str | None = None
    retries: int = 2
    timeout_s: float = 300.0

    @classmethod
    def of(cls, workers: int, scheduler: str | None, retries: int, timeout_s: float) -> Where:
        """From the command line: checks the values; DENSEAMC_SCHEDULER when no option says
        where."""
        if workers < 0:
            raise usage_error(f"--workers {workers}: expected 0 (in this process) or more")
        if retries < 0:
            raise usage_error(f"--retries {retries}: expected 0 or more")
        if not timeout_s > 0:
            raise usage_error(f"--timeout {timeout_s}: expected a time limit > 0 s")
        if scheduler is None and workers == 0:
            scheduler = os.environ.get(SCHEDULER_ENV) or None
        if scheduler is not None and workers:
            raise usage_error(f"--workers {workers} and --scheduler {scheduler}: give one "
                              "(a local cluster, or an existing one)")
        if scheduler is not None and "://" not in scheduler:
            raise usage_error(f"--scheduler {scheduler}: expected an address such as "
                              "tcp://HOST:PORT")
        return cls(workers, scheduler, retries, timeout_s)

    @property
    def in_process(self) -> bool:
        return self.workers == 0 and self.scheduler is None


@dataclass(frozen=True)
class Job(Generic[P, R]):
    """Draws start..stop-1 of one payload: `run(payload, start, stop)` returns their results
    in draw order. `run` must be a module-level function (workers import it)."""

    run: Callable[[P, int, int], list[R]]
    payload: P
    start: int
    stop: int

    def split(self) -> list[Job[P, R]]:
        return [Job(self.run, self.payload, k, k + 1) for k in range(self.start, self.stop)]


@dataclass(frozen=True)
class FailedDraw:
    """A draw that failed every attempt: its index and the last error, in words."""

    draw: int
    error: str


Outcome = list[Any]  # per draw of a job: its result, or a FailedDraw
Progress = Callable[[int, int], None]  # (draws done, draws failed) so far


def run_jobs(jobs: Sequence[Job[Any, R]], where: Where,
             progress: Progress = lambda done, failed: None) -> list[list[R | FailedDraw]]:
    """Run every job where `where` says; per job, per draw: its result or a FailedDraw."""
    if where.in_process:
        return _InProcess(where.retries, progress).run(jobs)
    with _client(where) as (dist, client):
        return _OnDask(dist, client, where.retries, progress).run(jobs)


class TaskFailed(RuntimeError):
    """A task's error in words: what a worker sends back (any exception pickles as this)."""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TaskFailed):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


class _Tally:
    """Counts finished draws for the progress callback."""

    def __init__(self, progress: Progress) -> None:
        self.progress, self.done, self.failed = progress, 0, 0

    def add(self, outcome: Outcome) -> None:
        self.done += len(outcome)
        self.failed += sum(isinstance(o, FailedDraw) for o in outcome)
        self.progress(self.done, self.failed)


class _InProcess:
    def __init__(self, retries: int, progress: Progress) -> None:
        self.retries, self.tally = retries, _Tally(progress)

    def _attempts(self, job: Job[Any, Any]) -> Outcome | BaseException:
        last: BaseException = RuntimeError("not run")
        for _ in range(self.retries + 1):
            try:
                return list(job.run(job.payload, job.start, job.stop))
            except Exception as exc:  # a failed chunk is retried, then split, then reported
                last = exc
        return last

    def run(self, jobs: Sequence[Job[Any, Any]]) -> list[Outcome]:
        out = []
        for job in jobs:
            got = self._outcome(job)
            self.tally.add(got)
            out.append(got)
        return out

    def _outcome(self, job: Job[Any, Any]) -> Outcome:
        got = self._attempts(job)
        if not isinstance(got, BaseException):
            return got
        if job.stop - job.start > 1:  # each draw alone, then a FailedDraw
            return [o for one in job.split() for o in self._outcome(one)]
        return [FailedDraw(job.start, _describe(got))]


def _call(run: Callable[[Any, int, int], list[Any]], payload: Any, start: int,
          stop: int) -> list[Any]:
    """What a Dask task runs (module level, so workers can import it). Its errors go back as
    TaskFailed: not every exception survives pickling (DenseAMCError does not)."""
    try:
        return list(run(payload, start, stop))
    except Exception as exc:
        raise TaskFailed(_describe(exc)) from None


class _OnDask:
    """`dist` is the `distributed` module, `client` a Client (both untyped: Any)."""

    def __init__(self, dist: Any, client: Any, retries: int, progress: Progress) -> None:
        self.dist, self.client = dist, client
        self.retries, self.tally = retries, _Tally(progress)

    def run(self, jobs: Sequence[Job[Any, Any]]) -> list[Outcome]:
        payloads: dict[int, Any] = {}  # id(payload) -> its future, shipped once
        for job in jobs:
            if id(job.payload) not in payloads:
                payloads[id(job.payload)] = self.client.scatter(job.payload, broadcast=True,
                                                                hash=False)
        pending: dict[str, tuple[int, Job[Any, Any]]] = {}  # task key -> (job index, job)
        parts: list[dict[int, Outcome]] = [{} for _ in jobs]

        def submit(index: int, job: Job[Any, Any]) -> Any:
            fut = self.client.submit(_call, job.run, payloads[id(job.payload)], job.start,
                                     job.stop, retries=self.retries, pure=False)
            pending[fut.key] = (index, job)
            return fut

        queue = self.dist.as_completed([submit(i, job) for i, job in enumerate(jobs)],
                                       with_results=False)
        for fut in queue:
            index, job = pending.pop(fut.key)
            try:
                got: Outcome = list(fut.result())
            except Exception as exc:  # every retry failed, or the workers running it died
                if job.stop - job.start > 1:  # each draw alone, then a FailedDraw
                    for part in job.split():
                        queue.add(submit(index, part))
                    continue
                got = [FailedDraw(job.start, _describe(exc))]
            finally:
                fut.release()
            parts[index][job.start] = got
            self.tally.add(got)
        return [[o for start in sorted(p) for o in p[start]] for p in parts]


def _distributed() -> Any:
    """The `distributed` module (imported only here), or a usage error saying how to get it."""
    try:
        import distributed
    except ImportError:
        raise usage_error(f"--workers/--scheduler need Dask, which is not installed: "
                          f"{DASK_INSTALL}") from None
    return distributed


@contextmanager
def _client(where: Where) -> Iterator[tuple[Any, Any]]:
    """(the distributed module, a Client) on the cluster `where` names; a local cluster it
    starts is closed (and its scratch directory removed) on the way out, whatever the way
    out, Ctrl-C included."""
    dist = _distributed()
    if where.scheduler is not None:
        try:
            client = dist.Client(where.scheduler, timeout="10s")
        except OSError as exc:
            raise usage_error(f"--scheduler {where.scheduler}: cannot reach the Dask "
                              f"scheduler ({exc})") from None
        try:
            yield dist, client
        finally:
            client.close()
        return
    import dask

    scratch = tempfile.mkdtemp(prefix="denseamc-dask-")
    # the scheduler's and workers' files all in `scratch`; no statistical profiler in the
    # workers (it samples every 10 ms: ~5% of a core each, taken from the simulators)
    config = {"temporary-directory": scratch, "distributed.worker.profile.enabled": False}
    try:
        with dask.config.set(config), \
                dist.LocalCluster(n_workers=where.workers, threads_per_worker=1,
                                  processes=True, host="127.0.0.1", dashboard_address=None,
                                  # no dashboard, and its HTTP server on any free port
                                  scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                                  local_directory=scratch, silence_logs=40) as cluster, \
                dist.Client(cluster) as client:
            yield dist, client
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
