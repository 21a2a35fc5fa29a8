"""Dust density per frame as OpenVDB files (`dust/NAME.NNNN.vdb`) for Houdini and Blender.

The files are written by OpenVDB's own Python module (pyopenvdb, Debian's
`python3-openvdb`), not by a hand-written encoder. That module is built
against the system Python's NumPy 1.x, which our venv (NumPy 2) cannot load
in-process (it crashes on import), and PyPI has no maintained OpenVDB wheel
that can write a new grid with its own transform. So one small worker
process of the system Python, running the script below, does the OpenVDB
calls; frames travel to it over a pipe as raw float32.

Each file holds one FloatGrid named "density" (class fog volume) whose
transform is linear: voxel size = the dust grid's cell size, translation so
that voxel (i, j, k)'s centre lies at the cell centre bounds_min + (idx + 0.5)
* voxel size, in the shot's world (Z up, metres). Zero voxels are inactive.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from setpiece.errors import OutputError

SYSTEM_PYTHON = "/usr/bin/python3"  # the Python python3-openvdb is built for
ENV_PYTHON = "SETPIECE_VDB_PYTHON"  # another interpreter that can import pyopenvdb
GRID_NAME = "density"

_WORKER = r"""
import json, sys
import numpy as np
try:
    import pyopenvdb as vdb
except ImportError as err:
    sys.stdout.write("error: " + str(err) + "\n"); sys.stdout.flush(); sys.exit(1)
out, inp = sys.stdout, sys.stdin.buffer
out.write("ready\n"); out.flush()
for line in inp:
    try:
        job = json.loads(line)
        if job["op"] == "write":
            shape = tuple(job["shape"])
            data = np.frombuffer(inp.read(4 * int(np.prod(shape))), np.float32).reshape(shape)
            grid = vdb.FloatGrid(0.0)
            grid.copyFromArray(data, tolerance=0.0)
            grid.name = job["name"]
            grid.gridClass = vdb.GridClass.FOG_VOLUME
            h, (x, y, z) = job["voxel_size"], job["origin"]
            grid.transform = vdb.createLinearTransform([[h, 0, 0, 0], [0, h, 0, 0], [0, 0, h, 0], [x, y, z, 1]])
            vdb.write(job["path"], grids=[grid], metadata={"creator": "setpiece"})
            out.write("ok\n")
        else:
            grid = vdb.read(job["path"], job["name"])
            bbox = grid.evalActiveVoxelBoundingBox()
            lo = [min(0, int(v)) for v in bbox[0]]
            shape = [max(1, int(h) + 1 - l) for h, l in zip(bbox[1], lo)]
            data = np.zeros(shape, np.float32)
            grid.copyToArray(data, ijk=tuple(lo))
            origin = list(grid.transform.indexToWorld((0, 0, 0)))
            voxel = list(grid.transform.voxelSize())
            out.write(json.dumps({"shape": shape, "lo": lo, "origin": origin, "voxel_size": voxel,
                                  "name": grid.name, "class": str(grid.gridClass)}) + "\n")
            out.flush()
            sys.stdout.buffer.write(np.ascontiguousarray(data).tobytes())
            sys.stdout.buffer.flush()
            continue
    except Exception as err:
        out.write("error: " + str(err).replace("\n", " ") + "\n")
    out.flush()
"""

_INSTALL_HINT = (
    "dust VDB files need OpenVDB's Python module for the system Python: `apt-get install python3-openvdb` "
    f"(scripts/install.sh does), or point {ENV_PYTHON} at a Python that can import pyopenvdb, "
    "or set output.vdb = false"
)


def _interpreter() -> str:
    chosen = os.environ.get(ENV_PYTHON) or SYSTEM_PYTHON
    found = shutil.which(chosen) if not os.path.isabs(chosen) else (chosen if os.path.exists(chosen) else None)
    if not found:
        raise OutputError(f"no {chosen} to run OpenVDB: {_INSTALL_HINT}")
    return found


class VdbWorker:
    """One system-Python process holding OpenVDB; write() and read() talk to it over a pipe."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [_interpreter(), "-c", _WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        first = self._line()
        if first != "ready":
            self.close()
            raise OutputError(f"OpenVDB could not be loaded ({first.removeprefix('error: ')}): {_INSTALL_HINT}")

    def _line(self) -> str:
        return self.proc.stdout.readline().decode().strip() or "error: the OpenVDB worker stopped"

    def _send(self, job: dict, payload: bytes = b"") -> None:
        try:
            self.proc.stdin.write(json.dumps(job).encode() + b"\n" + payload)
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise OutputError(f"the OpenVDB worker stopped while handling {job['path']}") from None

    def write(self, path, density: np.ndarray, bounds_min, voxel_size: float) -> Path:
        """Write `density` (nx, ny, nz), cell-centred on a box starting at bounds_min, as a
        "density" fog volume. The file appears whole (written beside it, then renamed)."""
        path = Path(path)
        data = np.ascontiguousarray(np.nan_to_num(np.asarray(density, np.float32)))
        if data.ndim != 3:
            raise OutputError(f"dust VDB {path.name}: density must be a 3D grid, not shape {data.shape}")
        origin = [float(b) + 0.5 * voxel_size for b in bounds_min]
        tmp = path.with_name(path.name + ".part")
        job = {"op": "write", "path": str(tmp), "shape": list(data.shape), "name": GRID_NAME}
        self._send({**job, "voxel_size": float(voxel_size), "origin": origin}, data.tobytes())
        answer = self._line()
        if answer != "ok":
            raise OutputError(f"cannot write dust VDB {path}: {answer.removeprefix('error: ')}")
        os.replace(tmp, path)
        return path

    def read(self, path, name: str = GRID_NAME) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values from index (0,0,0) up to the last active voxel, world centre of voxel
        (0,0,0), voxel size per axis) of one grid; for checking what was written."""
        self._send({"op": "read", "path": str(path), "name": name})
        answer = self._line()
        if answer.startswith("error"):
            raise OutputError(f"cannot read {name!r} from {path}: {answer.removeprefix('error: ')}")
        info = json.loads(answer)
        shape = info["shape"]
        raw = self.proc.stdout.read(4 * int(np.prod(shape)))
        data = np.frombuffer(raw, np.float32).reshape(shape)
        start = [-lo for lo in info["lo"]]  # index 0 inside the returned block
        data = data[start[0] :, start[1] :, start[2] :].copy()
        return data, np.array(info["origin"]), np.array(info["voxel_size"])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class VdbSequence:
    """Deliver writer: each frame's dust as dust/NAME.NNNN.vdb. A frame without dust (before
    the first burst) gets no file, and a shot without dust no folder; the USD shot's dust
    volume points at the files that exist (setpiece.deliver.dust_vdb_file)."""

    folder = "dust"
    per_frame = True  # one file per frame: farm workers write their own frames

    def __init__(self, job):
        self.job = job
        self.dust = job.inputs.get("dust")
        self.worker = VdbWorker() if self.dust is not None else None
        self.written = 0

    def add(self, frame: int, passes, comp) -> None:
        if self.worker is None:
            return
        from setpiece.deliver import dust_vdb_file

        dust = self.dust[frame]
        density = np.asarray(dust.density, np.float32)
        if not density.any():
            return
        lo, hi = np.asarray(dust.bounds_min, float), np.asarray(dust.bounds_max, float)
        path = self.job.work / dust_vdb_file(self.job.name, frame)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.worker.write(path, density, lo, float((hi[0] - lo[0]) / density.shape[0]))
        self.written += 1

    def close(self, ok: bool) -> dict[str, str]:
        if self.worker is None:
            return {}
        self.worker.close()
        return {"vdb": self.folder} if self.written else {}
