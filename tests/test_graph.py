"""The stage graph: declared reads, cache keys, random streams, one error boundary."""

import errno
import json
import multiprocessing

import numpy as np
import pytest

from setpiece import pipeline
from setpiece.errors import OutputError, StageError
from setpiece.graph import SpecView, Stage, run_stages, stage_key, stage_rng
from setpiece.stages import FRAME_STAGES, SHOT_STAGES
from tests.conftest import small_spec

TINY = {
    "shot": {"frames": 6},
    "render": {"width": 48, "height": 32},
    "dust": {"resolution": 12},
    "debris": {"count": 40},
    "output": {"exr": False, "usd": False},
}
WHOLE_SHOT = {"plate", "scene", "fracture", "sim", "debris", "dust"}


def tiny(**changes):
    sections = {k: dict(v) for k, v in TINY.items()}
    for name, values in changes.items():
        sections.setdefault(name, {}).update(values)
    return small_spec(**sections)


@pytest.fixture(scope="module")
def shot_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("graph")
    first = pipeline.run_shot(tiny(), out)
    assert first.cached == set()  # a cold run computes everything
    return out


def test_render_settings_rerun_render_and_below_only(shot_dir):
    result = pipeline.run_shot(tiny(render={"width": 64}), shot_dir)
    assert result.cached == WHOLE_SHOT


def test_glue_change_reruns_sim_and_below_but_not_fracture(shot_dir):
    result = pipeline.run_shot(tiny(sim={"glue_scale": 2.0}), shot_dir)
    assert result.cached == {"plate", "scene", "fracture"}


def test_renaming_the_shot_reruns_nothing_upstream_of_deliver(shot_dir):
    result = pipeline.run_shot(tiny(shot={"name": "renamed"}), shot_dir)
    assert result.cached == WHOLE_SHOT
    assert (result.take_dir / "renamed.mp4").is_file()


def test_timings_hold_one_entry_per_stage_by_name(shot_dir):
    result = pipeline.run_shot(tiny(), shot_dir)
    timings = json.loads((result.take_dir / "timings.json").read_text())
    names = [s.name for s in SHOT_STAGES + FRAME_STAGES]
    assert list(timings) == names
    assert all(timings[n] < 1.0 for n in WHOLE_SHOT)  # from the cache: near zero


def test_stage_version_is_in_the_key():
    stage = next(s for s in SHOT_STAGES if s.name == "sim")
    bumped = Stage(stage.name, stage.reads, stage.needs, stage.version + "x", stage.run, stage.schema)
    upstream = {"scene": "a", "fracture": "b"}
    assert stage_key(stage, tiny(), upstream) != stage_key(bumped, tiny(), upstream)
    assert stage_key(stage, tiny(), upstream) != stage_key(stage, tiny(), {"scene": "a", "fracture": "c"})


def test_a_stage_sees_only_what_it_declares():
    view = SpecView(tiny(), ("trigger", "shot.fps"), "sim")
    assert view.shot.fps == 24.0 and view.trigger.time == 0.25
    with pytest.raises(StageError, match="sim reads shot.name"):
        _ = view.shot.name
    with pytest.raises(StageError, match="sim reads spec section 'render'"):
        _ = view.render


def test_an_undeclared_read_fails_the_run(tmp_path):
    sneaky = Stage("sneaky", ("shot.fps",), (), "1", lambda ctx: ctx.spec.building.floors)
    with pytest.raises(StageError, match="sneaky reads spec section 'building'"):
        run_stages([sneaky], tiny(), tmp_path)


def test_random_streams_are_per_stage_and_per_frame():
    draw = [stage_rng(7, s, f).random() for s, f in (("sim", None), ("dust", None), ("render", 0), ("render", 1))]
    assert len(set(draw)) == 4
    assert stage_rng(7, "render", 3).random() == stage_rng(7, "render", 3).random()


def test_a_full_disk_is_one_output_error_and_no_take(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.png"))

    monkeypatch.setattr("setpiece.deliver.writers.write_png", full)
    with pytest.raises(OutputError, match="deliver: disk full"):
        pipeline.run_shot(tiny(), tmp_path)
    assert not list(tmp_path.glob("take_*")) and not list(tmp_path.glob(".partial-*"))


def _render_in_process(out: str, queue) -> None:
    try:
        queue.put(str(pipeline.run_shot(tiny(), out).take_dir))
    except Exception as err:  # reported to the parent, which fails the test
        queue.put(f"failed: {err}")


def test_two_parallel_runs_of_one_shot_both_publish_complete_takes(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_render_in_process, args=(str(tmp_path), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    takes = sorted(queue.get(timeout=240) for _ in procs)
    for p in procs:
        p.join(60)
    assert [t.rsplit("/", 1)[-1] for t in takes] == ["take_001", "take_002"]
    for take in takes:
        assert len(list((tmp_path / take.rsplit("/", 1)[-1] / "png").glob("*.png"))) == TINY["shot"]["frames"]
    assert not list((tmp_path / ".cache").glob("*.part"))
    cached = sorted(p.name for p in (tmp_path / ".cache").glob("*.pkl"))
    assert len(cached) == len(WHOLE_SHOT)  # both wrote the same keys; each file is whole
    assert np.all([p.stat().st_size > 0 for p in (tmp_path / ".cache").glob("*.pkl")])


def test_importing_setpiece_loads_no_heavy_library():
    import subprocess
    import sys

    heavy = ("pybullet", "warp", "mitsuba", "pxr", "av", "OpenImageIO", "moderngl", "scipy")
    code = "import sys, setpiece, setpiece.pipeline, setpiece.stages, setpiece.cli; print(sorted(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert not [m for m in heavy if f"'{m}'" in loaded]


def test_ctrl_c_stops_a_render_within_a_second_and_leaves_nothing(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from setpiece.spec import dump_spec

    spec = tmp_path / "long.toml"
    spec.write_text(dump_spec(small_spec(shot={"frames": 2000}, dust={"enabled": False})))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "setpiece", "render", str(spec), "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.time() + 60
    while not list(out.glob(".partial-*")) and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(2.0)  # well into the sim
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    took = time.perf_counter() - sent
    assert proc.returncode == 130, output
    assert "interrupted" in output and "Traceback" not in output
    assert took < 1.5, f"took {took:.2f} s to stop"
    assert not list(out.glob(".partial-*")) and not list(out.glob("take_*"))
