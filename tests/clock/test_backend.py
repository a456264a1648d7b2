"""ModelPass through the runner (a hand-recording mm), profiles, determinism, parallel cells."""

from __future__ import annotations

import json

import pytest
from clock_helpers import BreakMM, BrkLoop, MemoryWriter, flat_profile

from maple.bench.runner import RunConfig, Runner
from maple.clock.backend import ModelPass
from maple.clock.profile import load_profile, shipped_profiles
from maple.errors import InputError

COSTS = {"syscall": 100.0, "mmap_lock": 20.0, "vma_alloc": 300.0, "node_write": 200.0, "vma_free": 100.0}
UP = 100 + 20 + 300 + 400  # ns: brk up creates a VMA (BreakMM's events)
DOWN = 100 + 20 + 200 + 100  # ns: brk down, the free after the downgrade


@pytest.fixture
def profile_path(tmp_path):
    path = tmp_path / "flat.json"
    flat_profile(COSTS).write(path)
    return str(path)


def _run(profile_path, mode, tasks, **kw):
    config = RunConfig(workloads=["brkx"], mms=["maple"], modes=[mode], procs=[tasks], samples=3,
                       warmup=0.001, interval=0.001, profile=profile_path, cpus=4, deterministic=False, **kw)
    writer = MemoryWriter()
    runner = Runner(config, writer, mm_factory=lambda kind: BreakMM(), workloads={"brkx": BrkLoop()})
    assert runner.run() == "complete", runner.error
    return writer.rows


@pytest.mark.parametrize("tasks", [1, 2, 4])
def test_processes_cells_give_the_cycle_rate_per_task(profile_path, tasks):
    rows = _run(profile_path, "processes", tasks)
    assert [r["sample"] for r in rows] == [1, 2, 3]
    per_task = 2 * 1e6 / (UP + DOWN)  # ops per ms
    for r in rows:
        assert r["seconds"] == 0.001  # a virtual window
        assert r["count"] == pytest.approx(tasks * per_task, abs=2 * tasks)
        assert r["ops"] == pytest.approx(r["count"] / 0.001)  # ops per virtual second
        assert r["min"] == r["max"] or r["max"] - r["min"] <= 2 / 0.001


def test_threads_cells_share_the_break(profile_path):
    """Two threads on one break: the second task's brk to the same break is a no-op that only
    takes and drops the lock, so it is gated by the first task and both progress in step."""
    rows = _run(profile_path, "threads", 2)
    for r in rows:
        assert r["min"] == pytest.approx(r["max"], abs=2 / 0.001)
        # per task and round: the first task's up + down (lock-gated) = UP + DOWN ns
        assert r["count"] == pytest.approx(2 * 2 * 1e6 / (UP + DOWN), abs=4)


def test_model_pass_threads_executes_real_calls_in_virtual_order():
    mm = BreakMM()
    with ModelPass(BrkLoop(), mm, "threads", 3, profile=flat_profile(COSTS)) as mp:
        mp.start()
        samples = list(mp.samples(2, 0.0005))
    done = sum(s[0] for s in samples)
    # every op is one brk that completed in virtual time; executed calls also include the
    # three setups' brk(0), each task's untimed warm-up passes and at most one call per task
    # still in flight
    from maple.clock.programs import warmup_steps

    warm = 3 * warmup_steps(BrkLoop()) * 2  # two brk calls per step
    assert warm > 0
    assert 0 <= mm.calls - 3 - warm - done <= 3
    assert mm.users == 3
    assert all(s[3] == 0.0005 for s in samples)


def test_two_runs_give_identical_rows(profile_path):
    a = _run(profile_path, "threads", 3)
    b = _run(profile_path, "threads", 3)
    assert a == b


def test_jobs_run_model_cells_in_worker_processes(profile_path):
    serial = _run(profile_path, "processes", 2)
    config = RunConfig(workloads=["brkx"], mms=["maple", "legacy"], modes=["processes", "threads"],
                       procs=[1, 2], samples=2, warmup=0.0005, interval=0.0005, profile=profile_path,
                       cpus=4, deterministic=False)
    rows = {}
    for jobs in (1, 3):
        config.jobs = jobs
        writer = MemoryWriter()
        runner = Runner(config, writer, mm_factory=lambda kind: BreakMM(), workloads={"brkx": BrkLoop()})
        assert runner.run() == "complete", runner.error
        rows[jobs] = writer.rows
    assert rows[1] == rows[3]
    assert len(rows[3]) == 2 * 2 * 2 * 2
    assert serial  # the serial helper run above completed too


def test_profiles_shipped_and_bad_ones_refused(tmp_path):
    assert {"default", "prior"} <= set(shipped_profiles())
    prior = load_profile("prior")
    assert prior.price({"syscall": 2}) == 2 * prior.costs["syscall"]
    with pytest.raises(InputError, match="--profile 'nope'"):
        load_profile("nope")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(InputError, match="bad JSON"):
        load_profile(str(bad))
    data = prior.to_json()
    del data["costs_ns"]["vma_alloc"]
    bad.write_text(json.dumps(data))
    with pytest.raises(InputError, match="vma_alloc"):
        load_profile(str(bad))
    data = prior.to_json()
    data["scheduler"]["smt_factor"] = 0
    bad.write_text(json.dumps(data))
    with pytest.raises(InputError, match="smt_factor"):
        load_profile(str(bad))
    with pytest.raises(InputError, match="--profile"):
        RunConfig(workloads=["brk1"], profile=str(tmp_path / "missing.json")).validate()


def test_spin_budget_and_smt_speed_follow_the_kernel_constants():
    p = load_profile("prior")
    assert p.spin_budget_ns(1) == 10500.0
    assert p.spin_budget_ns(100) == 25000.0  # readers capped at 30
    assert p.smt_speed(1) == 1.0 and p.smt_speed(2) == p.sched["smt_factor"]


def test_dask_local_cluster_runs_model_cells(profile_path):
    distributed = pytest.importorskip("dask.distributed")
    from maple.bench.parallel import cell_rows

    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        config = RunConfig(workloads=["brk1"], mms=["maple"], modes=["processes"], procs=[2], samples=2,
                           warmup=0.0, interval=0.0005, profile=profile_path, cpus=4,
                           deterministic=False, scheduler=cluster.scheduler_address)
        writer = MemoryWriter()
        runner = Runner(config, writer)
        assert runner.run() == "complete", runner.error
        remote = writer.rows
    # the same cell computed here, from scratch
    from maple.bench.runner import Cell

    config.scheduler = None
    local = cell_rows(config, runner.layout, Cell("brk1", "maple", "processes", 2))
    assert remote == local and len(remote) == 2


@pytest.mark.parametrize("rule", ["ttest", "ci", "welch"])
def test_zero_variance_cells_are_decided_exactly(rule):
    from maple.bench import stats

    # model-clock timed cells: every sample identical; a difference far below one unit
    v = stats.significance(rule, [0.0608, 0.0608, 0.0608], [0.0690, 0.0690, 0.0690], False)
    assert v.significant and v.score == 0.0
    v = stats.significance(rule, [5.0, 5.0], [5.0, 5.0], True)
    assert not v.significant and v.score == 1.0
    # one side varying: the rule's own test decides
    assert stats.exact_verdict([1.0, 2.0], [3.0, 3.0], True) is None


def test_cli_runs_are_deterministic_on_the_real_mm(tmp_path, capsys):
    """Two `maplebench run` of the same cells under the model clock write identical samples."""
    from cli_helpers import run_cli

    out = []
    for name in ("a", "b"):
        rc, _, err = run_cli(capsys, "run", "brk1", "--quick", "--procs", "3", "--cpus", "4", "--smt", "2",
                             "--out", tmp_path, "--name", name, "-q")
        assert rc == 0, err
        out.append((tmp_path / name / "samples.csv").read_text())
        meta = json.loads((tmp_path / name / "meta.json").read_text())
        assert meta["model"]["cpus"] == 4 and meta["model"]["smt"] == 2
        assert meta["model"]["profile"] == "default"
    assert out[0] == out[1]
    assert len(out[0].splitlines()) == 1 + 3 * 4  # header + 3 samples x (2 mms x 2 modes)


def test_cli_bad_profile_is_one_line_exit_2(tmp_path, capsys):
    from cli_helpers import assert_input_error

    assert_input_error(capsys, ["run", "brk1", "--quick", "--profile", "nosuch", "--out", tmp_path], "--profile 'nosuch'")
    assert not any(tmp_path.iterdir())


def test_threads_tasks_are_measured_after_their_cold_first_pass():
    """page_fault3's first pass fills the file's page cache (readahead, page_cache_alloc):
    a one-task threads cell must not count it, as the processes cell (record_cycle) does not,
    so the two rates of one task agree (the host measures them within 1%)."""
    from maple import workloads as registry
    from maple.clock.profile import load_profile
    from maple.mm import make_mm

    rates = {}
    for mode in ("processes", "threads"):
        with ModelPass(registry.get("page_fault3"), make_mm("current", layout="will-it-scale"), mode, 1,
                       profile=load_profile("default")) as mp:
            mp.cpus = 2
            mp.start()
            got = list(mp.samples(3, 0.005))
        rates[mode] = sum(total for total, _lo, _hi, _s in got) / (3 * 0.005)
    assert rates["threads"] == pytest.approx(rates["processes"], rel=0.02)


def test_threads_tasks_start_spread_over_one_pass():
    from maple import workloads as registry
    from maple.clock.programs import phase_steps

    pf = registry.get("page_fault1")
    assert pf.steps_per_loop == 64
    assert [phase_steps(pf, i, 4) for i in range(4)] == [0, 16, 32, 48]
    assert [phase_steps(pf, i, 128) for i in (0, 1, 2, 127)] == [0, 0, 1, 63]
    assert {phase_steps(registry.get("brk1"), i, 8) for i in range(8)} == {0}  # one-step passes
