"""Frame encoders shared by the deliver writers and the previz animatic: PNG and MP4.

Every writer puts its file next to its final name first and renames it in
place, so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import numpy as np

from setpiece.errors import OutputError


def atomic(path: Path) -> Path:
    """The hidden name a file is written under before it is renamed into place."""
    return path.with_name(f".{path.name}.part")


@contextmanager
def _output_errors(path: Path):
    """An OSError while writing (full disk, quota, permissions) becomes one OutputError
    line naming the file, worded as the stage graph words it."""
    from setpiece.graph import describe_os_error

    try:
        yield
    except OutputError:
        raise
    except OSError as err:
        if not err.filename:  # PIL and PyAV often leave it out
            err.filename = str(path)
        raise OutputError(describe_os_error(err)) from None


def write_png(path: Path, rgb8: np.ndarray) -> None:
    from PIL import Image

    tmp = atomic(path)
    with _output_errors(path):
        Image.fromarray(rgb8).save(tmp, format="PNG")
        os.replace(tmp, path)


class Mp4Writer:
    """H.264 (libx264, yuv420p) movie written frame by frame. ``fps`` may be a
    Fraction (24000/1001) or a float (kept exact to 1/1001)."""

    def __init__(self, path: Path, width: int, height: int, fps: float | Fraction, crf: int = 18):
        import av

        self.path, self.tmp = path, atomic(path)
        with _output_errors(path):
            self.container = av.open(str(self.tmp), mode="w", format="mp4")
        self.stream = self.container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        self.stream.width, self.stream.height = width - width % 2, height - height % 2
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": str(crf), "preset": "veryfast"}
        self._av = av

        self.frames = 0

    def add(self, rgb8: np.ndarray) -> None:
        h, w = self.stream.height, self.stream.width
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb8[:h, :w]), format="rgb24")
        with _output_errors(self.path):
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        """Finish the movie; with no frame added (the run failed first) just drop it,
        so the error that stopped the run is the one reported."""
        if self.frames == 0:
            self.container.close()
            Path(self.tmp).unlink(missing_ok=True)
            return
        with _output_errors(self.path):
            for packet in self.stream.encode():
                self.container.mux(packet)
            self.container.close()
            os.replace(self.tmp, self.path)

    def discard(self) -> None:
        """Drop an unfinished movie (after a failure); a no-op once close() has published it."""
        if self.tmp.exists():
            try:
                self.container.close()
            except Exception:  # noqa: BLE001 - the container may be broken; the file goes anyway
                pass
            self.tmp.unlink(missing_ok=True)
