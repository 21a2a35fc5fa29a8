"""Comp stage: each frame's CG over its background, dust on top, display transform and grain."""

from __future__ import annotations

from setpiece.graph import Context, FrameStage


class CompWorker:
    def __init__(self, ctx: Context):
        from setpiece.color import check_display
        from setpiece.comp import load_plate

        c, r = ctx.spec.comp, ctx.spec.render
        check_display(c.ocio_config, c.display, c.view)
        self.ctx = ctx
        plates = ctx.inputs["plate"]
        if plates is not None:  # the building in the photo falls: the clean plate shows behind it
            self.plate = plates.sized(r.width, r.height).clean
        else:
            self.plate = load_plate(c.plate, r.width, r.height) if c.plate else None

    def frame(self, index: int, upstream):
        from setpiece.comp import comp_frame

        passes, dust_layer = upstream
        return passes, comp_frame(self.ctx.spec, passes, self.ctx.rng(index), self.plate, dust_layer)

    def close(self, ok: bool) -> None:
        return None


STAGE = FrameStage(
    name="comp",
    reads=("comp", "light", "shot.seed", "render.width", "render.height"),
    needs=("plate",),
    version="3",
    open=CompWorker,
)
