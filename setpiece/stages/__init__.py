"""The shot's stages, in order. One module each; each declares the spec fields it
reads, the upstream artifacts it needs and a version of its own (see setpiece/graph.py).

    scene -> fracture -> sim -> debris -> dust -> render -> comp -> deliver

Whole-shot stages (cached in the shot folder): scene, fracture, sim, debris, dust.
Frame stages (run frame by frame, never cached): render, comp, deliver.
"""

from setpiece.stages import comp, debris, deliver, dust, fracture, render, scene, sim

SHOT_STAGES = [scene.STAGE, fracture.STAGE, sim.STAGE, debris.STAGE, dust.STAGE]
FRAME_STAGES = [render.STAGE, comp.STAGE, deliver.STAGE]

__all__ = ["SHOT_STAGES", "FRAME_STAGES"]
