"""Deliver stage: the writers the spec's [output] asks for (PNG, EXR, MP4, USD, OpenVDB dust) fill the take."""

from __future__ import annotations

from setpiece.graph import Context, FrameStage


class DeliverWorker:
    def __init__(self, ctx: Context):
        from setpiece.deliver import open_writers

        self.writers = open_writers(ctx)

    def frame(self, index: int, upstream) -> None:
        passes, comp = upstream
        for writer in self.writers:
            writer.add(index, passes, comp)

    def close(self, ok: bool) -> dict[str, str]:
        files: dict[str, str] = {}
        failure = None
        for writer in self.writers:
            try:
                files.update(writer.close(ok))
            except Exception as err:  # close the others, then report the first failure
                failure = failure or err
        if failure:
            raise failure
        return files


STAGE = FrameStage(
    name="deliver",
    reads=("output", "shot.name", "shot.fps", "render.width", "render.height"),
    needs=("scene", "fracture", "sim", "debris", "dust"),
    version="3",
    open=DeliverWorker,
)
