"""Dust delivered as OpenVDB: files OpenVDB itself reads back with the same voxels and placement."""

import numpy as np
import pytest

from setpiece.artifacts import DustFrame, DustVolume
from setpiece.deliver import DeliverJob
from setpiece.deliver.vdb import VdbSequence, VdbWorker
from setpiece.errors import OutputError


@pytest.fixture(scope="module")
def worker():
    try:
        w = VdbWorker()
    except OutputError as err:
        pytest.skip(str(err))
    yield w
    w.close()


def sparse_density(shape=(10, 12, 8), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    density = rng.random(shape).astype(np.float32)
    density[density < 0.6] = 0.0  # mostly empty, as dust is
    density[-1, -1, -1] = 3.25  # the last voxel is active, so the whole block comes back
    return density


def test_vdb_reads_back_the_same_voxels_at_the_same_place(worker, tmp_path):
    density = sparse_density()
    lo, h = (-6.0, -7.5, 0.0), 0.75
    worker.write(tmp_path / "d.vdb", density, lo, h)
    back, origin, voxel = worker.read(tmp_path / "d.vdb", "density")
    assert back.shape == density.shape
    assert np.array_equal(back, density)
    assert np.allclose(voxel, h)
    assert np.allclose(origin, np.array(lo) + 0.5 * h)  # voxel (0,0,0) sits at the first cell centre


def test_vdb_grid_must_be_named_density(worker, tmp_path):
    worker.write(tmp_path / "d.vdb", sparse_density(), (0, 0, 0), 1.0)
    with pytest.raises(OutputError, match="'smoke'"):
        worker.read(tmp_path / "d.vdb", "smoke")


def test_sequence_writes_one_file_per_frame_named_like_the_other_sequences(worker, tmp_path):
    frames = [DustFrame(i, i / 24, sparse_density(seed=i), (-3.0, -3.0, 0.0), (4.5, 6.0, 6.0)) for i in range(3)]
    job = DeliverJob(tmp_path, "shot", 24.0, 64, 36, {"dust": DustVolume(frames)})
    seq = VdbSequence(job)
    for i in range(3):
        seq.add(i, None, None)
    assert seq.close(True) == {"vdb": "dust"}
    files = sorted(p.name for p in (tmp_path / "dust").iterdir())
    assert files == ["shot.0001.vdb", "shot.0002.vdb", "shot.0003.vdb"]
    back, origin, voxel = worker.read(tmp_path / "dust" / "shot.0002.vdb")
    assert np.array_equal(back, frames[1].density)
    assert np.allclose(voxel, 0.75) and np.allclose(origin, (-2.625, -2.625, 0.375))


def test_no_dust_writes_no_vdb(tmp_path):
    seq = VdbSequence(DeliverJob(tmp_path, "shot", 24.0, 64, 36, {"dust": None}))
    seq.add(0, None, None)
    assert seq.close(True) == {} and not (tmp_path / "dust").exists()


def test_a_frame_before_the_first_burst_gets_no_file(worker, tmp_path):
    empty = np.zeros((10, 12, 8), np.float32)
    grids = [empty, sparse_density()]
    frames = [DustFrame(i, i / 24, d, (0.0, 0.0, 0.0), (5.0, 6.0, 4.0)) for i, d in enumerate(grids)]
    seq = VdbSequence(DeliverJob(tmp_path, "shot", 24.0, 64, 36, {"dust": DustVolume(frames)}))
    seq.add(0, None, None)
    seq.add(1, None, None)
    assert seq.close(True) == {"vdb": "dust"}
    assert sorted(p.name for p in (tmp_path / "dust").iterdir()) == ["shot.0002.vdb"]


def test_missing_openvdb_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("SETPIECE_VDB_PYTHON", "/nonexistent/python3")
    with pytest.raises(OutputError, match="python3-openvdb"):
        VdbWorker()
