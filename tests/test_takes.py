import os
import signal
import subprocess
import sys
import time

import pytest

from setpiece import takes
from setpiece.errors import OutputError


def _age(path, seconds=3600):
    old = time.time() - seconds
    os.utime(path, (old, old))


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_killed_runs_partial_is_swept_by_the_next_run(tmp_path):
    # a real run killed with SIGKILL leaves its hidden work folder behind
    code = (
        "import sys, time; from setpiece import takes; "
        "w = takes.start(sys.argv[1]); (w / 'frame.png').write_bytes(b'x'); print(w, flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    leftover = tmp_path / os.path.basename(proc.stdout.readline().strip())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert leftover.is_dir()
    _age(leftover)
    work = takes.start(tmp_path)
    assert not leftover.exists()
    assert [p.name for p in tmp_path.iterdir()] == [work.name]


def test_partial_of_a_live_process_is_kept(tmp_path):
    ours = tmp_path / f".partial-{os.getpid()}-abcd1234"
    ours.mkdir()
    _age(ours)
    takes.start(tmp_path)
    assert ours.is_dir()


def test_young_partial_is_kept_even_if_its_pid_is_gone(tmp_path):
    young = tmp_path / f".partial-{_dead_pid()}-abcd1234"
    young.mkdir()
    assert takes.sweep_stale(tmp_path) == []
    assert young.is_dir()
    _age(young)
    assert takes.sweep_stale(tmp_path) == [young]


def test_sweep_touches_only_partial_folders(tmp_path):
    dead = _dead_pid()
    keep = [tmp_path / "take_001", tmp_path / f"partial-{dead}-abcd1234", tmp_path / f".partial-{dead}-notes.txt"]
    keep[0].mkdir()
    keep[1].mkdir()
    keep[2].write_text("a file, not a work folder")
    for path in keep:
        _age(path)
    takes.sweep_stale(tmp_path)
    assert all(p.exists() for p in keep)


def _take(out, files):
    work = takes.start(out)
    for name, data in files.items():
        (work / name).write_bytes(data)
    return takes.publish(work, out, "take_")


def test_failed_run_publishes_nothing_and_leaves_earlier_takes(tmp_path):
    first = _take(tmp_path, {"a.png": b"first"})
    work = takes.start(tmp_path)
    (work / "a.png").write_bytes(b"half written")
    takes.discard(work)  # what a failed run does
    second = _take(tmp_path, {"a.png": b"second"})
    assert (first.name, second.name) == ("take_001", "take_002")
    assert (first / "a.png").read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take_001", "take_002"]


def test_publish_never_reuses_a_taken_name(tmp_path):
    (tmp_path / "take_007").mkdir()
    (tmp_path / "take_007" / "keep.txt").write_text("earlier")
    take = _take(tmp_path, {"b.txt": b"new"})
    assert take.name == "take_008"
    assert (tmp_path / "take_007" / "keep.txt").read_text() == "earlier"


def test_output_that_is_a_file_is_a_clear_error(tmp_path):
    path = tmp_path / "out"
    path.write_text("")
    with pytest.raises(OutputError, match="not a folder"):
        takes.start(path)
