"""Deliver stage: the writers the spec's [output] asks for fill the take: PNG and EXR
frames, MP4, the USD shot, the editorial clip (and the dust VDBs).

It reads the whole spec: the editorial clip records it, and the USD shot and
the EXR header need the camera, lights and render size. Being a frame stage it
is never cached, so reading more costs nothing upstream.
"""

from __future__ import annotations

from setpiece.graph import Context, FrameStage
from setpiece.spec import ShotSpec


class DeliverWorker:
    def __init__(self, ctx: Context):
        from setpiece.deliver import open_writers

        self.writers = open_writers(ctx)

    def frame(self, index: int, upstream):
        passes, comp = upstream
        for writer in self.writers:
            writer.add(index, passes, comp)
        return upstream

    def close(self, ok: bool) -> dict[str, str]:
        """Close every writer in order (late ones, which refer to the others' files, last)."""
        files: dict[str, str] = {}
        failure = None
        for writer in self.writers:
            try:
                files.update(writer.close(ok and failure is None))
            except Exception as err:  # close the others, then report the first failure
                failure = failure or err
        if failure:
            raise failure
        return files


STAGE = FrameStage(
    name="deliver",
    reads=tuple(ShotSpec.model_fields),
    needs=("scene", "fracture", "sim", "debris", "dust"),
    version="3",
    open=DeliverWorker,
)
