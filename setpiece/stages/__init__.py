"""The shot's stages, in order. One module each; each declares the spec fields it
reads, the upstream artifacts it needs and a version of its own (see setpiece/graph.py).

    plate -> scene -> fracture -> sim -> debris -> dust -> render -> comp -> deliver

Whole-shot stages (cached in the shot folder): plate, scene, fracture, sim, debris, dust.
(plate is empty unless the spec has a photo; the building and camera the photo
implies are resolved into the spec before the graph runs: setpiece/plate/shot.py)
Frame stages (run frame by frame, never cached): render, comp, deliver.
"""

from setpiece.stages import comp, debris, deliver, dust, fracture, plate, render, scene, sim

SHOT_STAGES = [plate.STAGE, scene.STAGE, fracture.STAGE, sim.STAGE, debris.STAGE, dust.STAGE]
FRAME_STAGES = [render.STAGE, comp.STAGE, deliver.STAGE]

__all__ = ["SHOT_STAGES", "FRAME_STAGES"]
