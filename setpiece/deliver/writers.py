"""Frame encoders shared by the deliver writers and the previz animatic: PNG and MP4.

Every writer puts its file next to its final name first and renames it in
place, so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def atomic(path: Path) -> Path:
    """The hidden name a file is written under before it is renamed into place."""
    return path.with_name(f".{path.name}.part")


def write_png(path: Path, rgb8: np.ndarray) -> None:
    from PIL import Image

    tmp = atomic(path)
    Image.fromarray(rgb8).save(tmp, format="PNG")
    os.replace(tmp, path)


class Mp4Writer:
    """H.264 (libx264, yuv420p) movie written frame by frame."""

    def __init__(self, path: Path, width: int, height: int, fps: float, crf: int = 18):
        import av

        self.path, self.tmp = path, atomic(path)
        self.container = av.open(str(self.tmp), mode="w", format="mp4")
        self.stream = self.container.add_stream("libx264", rate=round(fps))
        self.stream.width, self.stream.height = width - width % 2, height - height % 2
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": str(crf), "preset": "veryfast"}
        self._av = av

    def add(self, rgb8: np.ndarray) -> None:
        h, w = self.stream.height, self.stream.width
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb8[:h, :w]), format="rgb24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
        os.replace(self.tmp, self.path)
