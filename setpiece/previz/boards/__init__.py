"""Storyboards: simple 3D blocking per scene, one camera per shot, drawn with
the preview renderer.

Blocking is built from a scene's breakdown alone, so the same script always
gives the same boards:

- INT scenes: a three-walled room (open towards camera, as a stage set) with a
  window in the back wall, a door gap in the left wall and dressing picked by
  the location's name (stairs, counter, bed, or a table), the hand props on it.
- EXT scenes: a street with kerbs and building proxies (boxes with dark window
  bands); vehicles, a crane or police tape when the scene names them (PARK,
  FIELD, FOREST... locations without destruction get grass, trees, a bench). Scenes
  with destruction beats get setpiece's procedural building (``make_building``)
  as the hero: intact before the collapse beat, mid-collapse in the collapse
  shot, a rubble heap after it (and in RUINS/RUBBLE locations).
- Characters: mannequins (legs, torso, arms, head with hair at the back and a
  nose, so facing reads), one muted colour per name, the same in every scene,
  blocked facing each other (two), in an arc (three or more), or alone.
- VFX beats: proxies for dust, smoke, debris, glass, fire, sparks and cracks,
  shown only in their own VFX shot.

Each shot gets a camera from its size (framing height on the subject), angle
(camera height/elevation, a roll for dutch), lens (focal length on a 36 mm
sensor) and kind (OTS behind the other character's shoulder, inserts close on
the prop, VFX on the beat's place). Boards are drawn at twice the size, outlined
from the id/depth/normal passes like a pencil board, lightly desaturated, and
reduced; they carry one small corner label (shot, lens, angle), since the
animatic and contact sheet add the caption.

``StoryboardRenderer(scenes, shots)`` packs every scene's parts into one
``PreviewRenderer`` (one GL context; shaders compile once) and hides the other
scenes' parts per board; a very long script is split into several batches.

Modules: ``shapes`` (primitive meshes), ``mannequins``, ``props``, ``sets``
(rooms, streets, parks, the hero building), ``fx`` (VFX proxies), ``blocking``
(a scene's parts), ``poses`` (per-shot visibility and collapse), ``framing``
(cameras), ``drawing`` (render-and-ink pass, labels); this module holds
``StoryboardRenderer`` and the public API.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image

from setpiece.camera import Camera
from setpiece.previz.boards.blocking import Blocking, base_location, block_scene, scene_text, shot_categories
from setpiece.previz.boards.drawing import (
    Board,
    board_light,
    crop_passes,
    draw_board,
    label_board,
    point_sampled,
    rotate_passes,
)
from setpiece.previz.boards.framing import SENSOR_WIDTH, Framing, frame_shot
from setpiece.previz.boards.mannequins import Actor, character_color, character_height, mannequin
from setpiece.previz.boards.poses import HIDDEN, shot_pose
from setpiece.previz.breakdown import SceneBreakdown
from setpiece.previz.shotlist import Shot

__all__ = [
    "Actor",
    "Blocking",
    "Board",
    "Framing",
    "StoryboardRenderer",
    "block_scene",
    "character_color",
    "character_height",
    "frame_shot",
    "mannequin",
    "shot_pose",
    "storyboard",
]

SUPERSAMPLE = 2  # boards are drawn at this multiple and reduced...
SUPERSAMPLE_MAX_PIXELS = 1024 * 576  # ...up to this board size; bigger ones are drawn as they are
BATCH_TRIANGLES = 150_000  # scenes per GL context are packed up to this many triangles
GROUND = (0.30, 0.30, 0.29)


class StoryboardRenderer:
    """A BoardRenderer (``renderer(shot, scene, width, height) -> PIL image``) that
    draws 3D blocking with the preview renderer. Give it every scene and shot up
    front to share one GL context; call close() (or use ``with``) when done."""

    def __init__(
        self,
        scenes: list[SceneBreakdown] = (),
        shots: list[Shot] = (),
        label: bool = True,
        batch_triangles: int = BATCH_TRIANGLES,
        progress: Callable[[str, int, int], None] | None = None,
    ):
        """``progress("blocking", done, total)`` hears about each scene blocked."""
        self.label = label
        self.batch_triangles = batch_triangles
        self._shots = {}
        for shot in shots:
            self._shots.setdefault(shot.scene, []).append(shot)
        self._notes = _location_notes(scenes)
        self._blockings: dict[str, Blocking] = {}
        self._batches: list[list[str]] = []
        self._batch_of: dict[str, int] = {}
        self._active: tuple[int, object, dict[str, int]] | None = None
        if scenes:
            self._plan(scenes, progress)

    # ------------------------------------------------------------------ blocking

    def _plan(self, scenes: list[SceneBreakdown], progress=None) -> None:
        batch, tris = [], 0
        for k, scene in enumerate(scenes, start=1):
            blk = self._block(scene, self._shots.get(scene.number, []))
            if progress:
                progress("blocking", k, len(scenes))
            if batch and tris + blk.triangles > self.batch_triangles:
                self._batches.append(batch)
                batch, tris = [], 0
            batch.append(scene.number)
            tris += blk.triangles
        if batch:
            self._batches.append(batch)
        self._batch_of = {n: k for k, b in enumerate(self._batches) for n in b}

    def _block(self, scene: SceneBreakdown, shots: list[Shot]) -> Blocking:
        blk = block_scene(scene, shots, self._notes.get(base_location(scene), ""))
        self._blockings[scene.number] = blk
        return blk

    def blocking(self, shot: Shot, scene: SceneBreakdown) -> Blocking:
        """The scene's blocking, rebuilt (alone in its batch) if this shot needs a
        character or a VFX beat it lacks (a shot list edited after planning)."""
        blk = self._blockings.get(scene.number)
        known = self._shots.setdefault(scene.number, [])
        missing = blk is None or any(c.strip().upper() not in blk.actors for c in shot.characters)
        if (
            blk is not None
            and shot.kind == "vfx"
            and not any(g.line == shot.line and g.lead == shot_categories(shot)[0] for g in blk.fx)
        ):
            missing = True
        if missing:
            if shot not in known:
                known.append(shot)
            blk = self._block(scene, known)
            self._batches.append([scene.number])
            self._batch_of[scene.number] = len(self._batches) - 1
        return blk

    # ------------------------------------------------------------------ GL

    def _renderer(self, scene_number: str):
        from setpiece.render.raster import PreviewRenderer

        index = self._batch_of[scene_number]
        if self._active is not None and self._active[0] == index:
            return self._active[1], self._active[2][scene_number]
        self.close()
        parts, exposure, offsets = [], [], {}
        for number in self._batches[index]:
            blk = self._blockings[number]
            offsets[number] = len(parts)
            parts += blk.parts
            exposure += blk.exposure
        renderer = PreviewRenderer(parts, exposure, ground_color=GROUND, ground_size=3000.0, supersample=1)
        self._active = (index, renderer, offsets)
        return renderer, offsets[scene_number]

    def close(self) -> None:
        if self._active is not None:
            self._active[1].release()
            self._active = None

    def __enter__(self) -> StoryboardRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ boards

    def __call__(self, shot: Shot, scene: SceneBreakdown, width: int, height: int) -> Image.Image:
        return self.board(shot, scene, width, height).image

    def board(self, shot: Shot, scene: SceneBreakdown, width: int, height: int) -> Board:
        blk = self.blocking(shot, scene)
        if scene.number not in self._batch_of:
            self._batches.append([scene.number])
            self._batch_of[scene.number] = len(self._batches) - 1
        renderer, offset = self._renderer(scene.number)
        framing = frame_shot(shot, blk, width, height)
        ss = SUPERSAMPLE if width * height <= SUPERSAMPLE_MAX_PIXELS else 1
        grow = 1.0
        if framing.roll:
            r = math.radians(abs(framing.roll))
            grow = math.cos(r) + max(width / height, height / width) * math.sin(r)
        big_w, big_h = int(math.ceil(width * ss * grow)), int(math.ceil(height * ss * grow))
        big_w, big_h = big_w + (big_w - width * ss) % 2, big_h + (big_h - height * ss) % 2
        cam = framing.camera(big_w, big_h)
        cam = Camera(
            cam.position,
            cam.target,
            cam.focal_length,
            SENSOR_WIDTH * big_w / (width * ss),
            big_w,
            big_h,
            cam.near,
            cam.far,
        )
        xf = np.repeat(np.broadcast_to(HIDDEN, (4, 4))[None], renderer.n_parts, axis=0).copy()
        xf[offset : offset + len(blk.parts)] = shot_pose(shot, blk)
        sun, sun_rgb, sky_rgb, exposure = board_light(blk)
        ctx = getattr(renderer, "ctx", None)
        if ctx is not None:  # another renderer's GL context may be current: use ours
            with ctx:
                passes = renderer.render(cam, xf, sun, sun_rgb, sky_rgb, framing.radius)
        else:
            passes = renderer.render(cam, xf, sun, sun_rgb, sky_rgb, framing.radius)
        part = np.where(passes.part >= 0, passes.part - offset, passes.part)
        part = np.where((passes.part >= 0) & ((part < 0) | (part >= len(blk.parts))), -1, part)
        passes.part = part
        rgb = draw_board(passes, blk, sky_rgb, exposure)
        image = Image.fromarray(rgb)
        if framing.roll:
            image = image.rotate(framing.roll, resample=Image.BICUBIC)
            passes = rotate_passes(passes, framing.roll)
            left, top = (big_w - width * ss) // 2, (big_h - height * ss) // 2
            box = (left, top, left + width * ss, top + height * ss)
            image = image.crop(box)
            passes = crop_passes(passes, box)
        image = image.reduce(ss) if ss > 1 else image
        small = point_sampled(passes, ss)
        board_cam = framing.camera(width, height)
        if self.label:
            label_board(image, shot, blk, small, board_cam)
        return Board(image, board_cam, small, blk, framing.roll)


def storyboard(shot: Shot, scene: SceneBreakdown, width: int = 640, height: int = 360) -> Image.Image:
    """One board on its own (a context per call; use StoryboardRenderer for many)."""
    with StoryboardRenderer([scene], [shot]) as renderer:
        return renderer(shot, scene, width, height)


def _location_notes(scenes: list[SceneBreakdown]) -> dict[str, str]:
    """All the text each location has across the script (storeys, material)."""
    notes: dict[str, list[str]] = {}
    for scene in scenes:
        notes.setdefault(base_location(scene), []).append(scene_text(scene))
    return {k: " ".join(v) for k, v in notes.items()}
