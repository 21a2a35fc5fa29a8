"""Render farm on a Dask LocalCluster: same frames, survives a lost worker, clear errors."""

import os
import time

import numpy as np
import OpenImageIO as oiio
import pytest
from distributed import LocalCluster, WorkerPlugin

from setpiece import pipeline
from setpiece.farm import Farm, FarmError, chunks
from tests.test_graph import tiny

FRAMES = 10


def _spec():
    return tiny(shot={"frames": FRAMES}, output={"exr": True})


def _pixels(take, kind: str, frame: int) -> np.ndarray:
    path = take / kind / f"collapse.{frame:04d}.{kind}"
    return oiio.ImageBuf(str(path)).get_pixels(oiio.FLOAT)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    return pipeline.run_shot(_spec(), tmp_path_factory.mktemp("plain")).take_dir


@pytest.fixture(scope="module")
def cluster():
    """One two-worker LocalCluster for the module (starting one costs seconds)."""
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, silence_logs=50) as local:
        yield local


def test_chunks_cover_every_frame_once():
    parts = chunks(10, 4)
    assert [f for part in parts for f in part] == list(range(10))
    assert chunks(3, 8) == [range(0, 1), range(1, 2), range(2, 3)]


def test_two_workers_render_the_same_frames_as_a_plain_render(plain, cluster, tmp_path):
    farmed = pipeline.run_shot(_spec(), tmp_path, farm=Farm(scheduler=cluster.scheduler_address)).take_dir
    for frame in range(1, FRAMES + 1):
        for kind in ("png", "exr"):
            assert np.array_equal(_pixels(plain, kind, frame), _pixels(farmed, kind, frame)), (kind, frame)
    assert (farmed / "collapse.mp4").stat().st_size > 0


def test_a_bad_scheduler_address_is_a_clear_error_within_ten_seconds(tmp_path):
    start = time.perf_counter()
    with pytest.raises(FarmError, match="cannot reach the Dask scheduler.*dask scheduler"):
        pipeline.run_shot(_spec(), tmp_path, farm=Farm(scheduler="tcp://127.0.0.1:9"))
    assert time.perf_counter() - start < 10
    assert not list(tmp_path.glob("take_*")) and not list(tmp_path.glob(".partial-*"))


class _KillOnce(WorkerPlugin):
    """Kills the worker process the first time any worker starts rendering a chunk."""

    def __init__(self, marker: str):
        self.marker = marker

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and "render_chunk" in str(key) and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(1)


def test_a_worker_killed_mid_render_still_gives_a_complete_take(plain, cluster, tmp_path):
    from distributed import Client

    with Client(cluster) as client:  # runs last in this module: the plugin stays on the cluster
        client.register_plugin(_KillOnce(str(tmp_path / "killed")))
    take = pipeline.run_shot(_spec(), tmp_path / "shot", farm=Farm(scheduler=cluster.scheduler_address))
    assert (tmp_path / "killed").exists()  # a worker really died
    for frame in range(1, FRAMES + 1):
        assert np.array_equal(_pixels(plain, "png", frame), _pixels(take.take_dir, "png", frame))
