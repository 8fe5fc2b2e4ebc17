"""The executor on real Dask, nothing mocked: the same JSON in this process, on a LocalCluster of
two workers and on a scheduler plus two workers started here as separate processes on
127.0.0.1; a worker killed mid-run loses no draw; Ctrl-C stops the cluster it started and
leaves no process or scratch directory behind; a draw that fails every retry is reported by
index. Needs dask and distributed: `pip install -e '.[dist]'` (the Makefile's test-deps does)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from denseamc.compiler.cli import EXIT_FAIL, main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HAMMING = EXAMPLES / "hamming74.dam"
XOR = EXAMPLES / "xor.dam"
# Fragile enough that draws differ and some fail: the statistics are not all 1.
STUDY = ["--set", "g_sigma=0.2", "--set", "p_stuck_off=0.05", "--seed", "3", "--quiet"]


def _dask_installed() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        pytest.fail("dask and distributed are needed: pip install -e '.[dist]'")


def _montecarlo(out: Path, runs: int, *extra: str) -> bytes:
    code = main(["montecarlo", str(HAMMING), "--runs", str(runs), "--chunk", "2", *STUDY,
                 "--json", str(out), *extra])
    assert code == 0
    return out.read_bytes()


class Cluster:
    """A `dask scheduler` and two `dask worker` processes (no nanny: a killed worker stays
    dead) on 127.0.0.1, stopped by `close`."""

    def __init__(self, tmp: Path) -> None:
        sched_file = tmp / "scheduler.json"
        py = [sys.executable, "-m"]
        self.scheduler = subprocess.Popen(
            [*py, "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
             "--no-dashboard", "--scheduler-file", str(sched_file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.address = json.loads(sched_file.read_text())["address"]
        self.workers = [subprocess.Popen(
            [*py, "distributed.cli.dask_worker", self.address, "--nthreads", "1",
             "--no-nanny", "--no-dashboard", "--host", "127.0.0.1",
             "--local-directory", str(tmp / f"w{i}")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(2)]
        from distributed import Client

        with Client(self.address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=60)

    def close(self) -> None:
        for p in [*self.workers, self.scheduler]:
            if p.poll() is None:
                p.terminate()
        for p in [*self.workers, self.scheduler]:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _dask_installed()
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The reference: 16 draws of hamming74 in this process."""
    return _montecarlo(tmp_path_factory.mktemp("ref") / "mc.json", 16)


def test_same_json_wherever_it_runs(tmp_path: Path, in_process: bytes,
                                    cluster: Cluster) -> None:
    data = json.loads(in_process)
    [point] = data["points"]
    assert point["failed_draws"] == [] and 0.0 < point["yield"] < 1.0  # the draws differ
    assert _montecarlo(tmp_path / "local.json", 16, "--workers", "2") == in_process
    assert _montecarlo(tmp_path / "remote.json", 16, "--scheduler", cluster.address) \
        == in_process
    os.environ["DENSEAMC_SCHEDULER"] = cluster.address
    try:
        assert _montecarlo(tmp_path / "env.json", 16) == in_process
    finally:
        del os.environ["DENSEAMC_SCHEDULER"]


def test_check_on_a_cluster_is_check(cluster: Cluster,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """check --backend spice with its vectors sent to the cluster, one task per vector: the
    same verdicts and agreement as in this process (all but the wall-time line)."""
    def lines(*extra: str) -> list[str]:
        assert main(["check", str(XOR), "--backend", "spice", *extra]) == 0
        return [x for x in capsys.readouterr().out.splitlines() if "wall time" not in x]

    here = lines()
    assert here[-1] == "PASS: 4 passed, 0 failed on backend spice (1 test blocks)"
    assert lines("--scheduler", cluster.address) == here


def test_killed_worker_loses_no_draw(tmp_path: Path, in_process: bytes,
                                     cluster: Cluster) -> None:
    out = tmp_path / "killed.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "denseamc.compiler.cli", "montecarlo", str(HAMMING), "--runs",
         "16", "--chunk", "1", *[a for a in STUDY if a != "--quiet"], "--json", str(out),
         "--scheduler", cluster.address],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()  # the first progress line: some draws done, not all
    assert line.startswith("denseamc: ") and "/16 draws" in line, line
    done = int(line.split()[1].split("/")[0])
    victim = cluster.workers[0]
    victim.kill()
    victim.wait()
    _, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, stderr
    assert done < 16  # the worker died with draws left to run
    assert out.read_bytes() == in_process  # every draw, the same numbers
    assert "16/16 draws, 0 failed" in stderr


@pytest.mark.parametrize("remote", [False, True])
def test_failed_draws_are_reported_by_index(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            cluster: Cluster, remote: bool) -> None:
    """ngspice with a time limit it cannot meet: every attempt of every draw times out (a hung
    simulator), so every draw fails every retry and is named, and nothing counts as a pass;
    in this process and on the cluster."""
    out = tmp_path / "mc.json"
    where = ["--scheduler", cluster.address] if remote else []
    code = main(["montecarlo", str(XOR), "--runs", "3", "--chunk", "3", "--backend", "spice",
                 "--set", "g_sigma=0.05", "--timeout", "1e-6", "--retries", "1",
                 "--json", str(out), *where])
    assert code == EXIT_FAIL
    [point] = json.loads(out.read_text())["points"]
    assert [f["draw"] for f in point["failed_draws"]] == [0, 1, 2]
    assert all("backend spice" in f["error"] for f in point["failed_draws"])
    assert point["yield"] == 0.0 and point["accuracy_mean"] is None
    captured = capsys.readouterr()
    assert "FAIL: 3 draws did not run (g_sigma = 0.05): draw 0: " in captured.out
    assert "3/3 draws, 3 failed" in captured.err


def _marked_processes(mark: str) -> list[int]:
    """Live processes whose environment carries `mark` (the command and its children)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except OSError:
            continue
        if mark.encode() in env and state != "Z":
            found.append(int(pid))
    return found


def test_ctrl_c_stops_the_local_cluster(tmp_path: Path) -> None:
    _dask_installed()
    mark = f"DENSEAMC_TEST_MARK={uuid.uuid4().hex}"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), mark.split("=")[0]: mark.split("=")[1]}
    proc = subprocess.Popen(
        [sys.executable, "-m", "denseamc.compiler.cli", "montecarlo", str(HAMMING), "--runs",
         "100", "--chunk", "1", "--workers", "2", "--json", str(tmp_path / "mc.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    line = proc.stderr.readline()  # the cluster is up and running draws
    assert line.startswith("denseamc: ") and "/100 draws" in line, line
    assert len(_marked_processes(mark)) >= 3  # the command and its two workers at least
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    deadline = time.monotonic() + 10
    while _marked_processes(mark) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _marked_processes(mark) == []
    assert list(scratch.iterdir()) == []  # the cluster's scratch directory is gone
    assert not (tmp_path / "mc.json").exists()


def test_in_process_commands_do_not_import_dask(tmp_path: Path) -> None:
    """Dask is an optional extra: compile, check and in-process studies never import it."""
    code = (
        "import sys\n"
        "from denseamc.compiler.cli import main\n"
        f"assert main([{str(XOR)!r}, '-o', {str(tmp_path / 'out')!r}]) == 0\n"
        f"assert main(['check', {str(XOR)!r}, '--backend', 'circuit']) == 0\n"
        f"assert main(['montecarlo', {str(XOR)!r}, '--runs', '2', '--quiet']) == 0\n"
        f"assert main(['sweep', {str(XOR)!r}, '--set', 'gbw=1G,2G', '--quiet']) == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n")
    env = {k: v for k, v in os.environ.items() if k != "DENSEAMC_SCHEDULER"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    assert out.stdout.splitlines()[-1] == "[]"
