"""Cameras: each shot's size, angle, lens and kind turned into a camera on
the blocking (OTS behind a shoulder, inserts on the prop, VFX on the beat),
kept on the set and clear of people in the way.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from setpiece.camera import Camera
from setpiece.previz.boards.blocking import Blocking, shot_categories
from setpiece.previz.boards.mannequins import Actor
from setpiece.previz.boards.poses import fx_group_of, hero_state
from setpiece.previz.shotlist import Shot
from setpiece.vocab import SHOT_SIZES, VFX_CATEGORIES

# How much each shot size frames (on people, places, rooms, props): setpiece.vocab.SHOT_SIZES.
SENSOR_WIDTH = 36.0  # mm, full-frame, as ShotSpec's camera
ELEVATION = {"high": 28.0, "overhead": 82.0}  # degrees down onto the subject
LOW_ANGLE = 20.0  # degrees up
DUTCH_ROLL = 12.0  # degrees


@dataclass
class Framing:
    position: np.ndarray
    target: np.ndarray
    focal_length: float
    roll: float = 0.0  # degrees, dutch
    radius: float = 30.0  # of the sun's shadow map around the target

    def camera(self, width: int, height: int) -> Camera:
        d = float(np.linalg.norm(self.target - self.position))
        return Camera(
            tuple(map(float, self.position)),
            tuple(map(float, self.target)),
            float(self.focal_length),
            SENSOR_WIDTH,
            width,
            height,
            near=max(0.03, min(1.0, d * 0.02)),
            far=5000.0,
        )


def _fov(focal: float, aspect: float) -> tuple[float, float]:
    """Half-angle tangents (horizontal, vertical)."""
    tx = SENSOR_WIDTH / 2 / focal
    return tx, tx / aspect


def _place_camera(
    target, frame_h, frame_w, look_from, angle, focal, aspect, eye_z=None, depth=0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Camera position framing a region of frame_h x frame_w metres at target, seen
    from the horizontal direction look_from (unit, from the target towards the camera)."""
    tx, ty = _fov(focal, aspect)
    d = max(frame_h / 2 / ty, frame_w / 2 / tx) + depth
    target = np.asarray(target, float)
    h = np.asarray(look_from, float)
    h = h / np.linalg.norm(h)
    if angle in ELEVATION:
        el = math.radians(ELEVATION[angle])
        pos = target + d * (h * math.cos(el) + np.array([0, 0, math.sin(el)]))
        if angle == "overhead":
            target = target.copy()
        return pos, target
    pos = target + h * d
    if angle == "low":
        pos[2] = max(0.45, min(target[2] - d * math.tan(math.radians(LOW_ANGLE)), 1.2))
        if pos[2] >= target[2]:  # the subject is on the floor: look up at it anyway
            pos[2] = 0.25
            target = target + [0, 0, 0.4]
    else:
        pos[2] = target[2] if eye_z is None else eye_z
    return pos, target


def frame_shot(shot: Shot, blk: Blocking, width: int, height: int) -> Framing:
    """The camera for one shot: its size, angle and lens applied to the blocking."""
    aspect = width / height
    focal = float(min(max(shot.lens_mm, 8.0), 300.0))
    size = shot.size if shot.size in SHOT_SIZES else "MS"
    angle = shot.angle if shot.angle in ("eye level", "low", "high", "overhead", "dutch") else "eye level"
    roll = DUTCH_ROLL if angle == "dutch" else 0.0
    cam_angle = "eye level" if angle == "dutch" else angle
    actors = [blk.actors[c.upper()] for c in shot.characters if c.upper() in blk.actors]
    subject = blk.actors.get(shot.subject.upper())
    front = np.array([0.0, -1.0, 0.0])

    if shot.kind == "ots" and subject is not None:
        other = next((a for a in actors if a is not subject), None)
        if other is not None:
            return _clamped(_ots(subject, other, size, cam_angle, focal, aspect, roll), blk)
    if shot.kind == "insert" or (shot.subject in blk.props and shot.kind != "vfx"):
        prop = blk.props.get(shot.subject) or next(iter(blk.props.values()), None)
        if prop is not None:
            look = _rotate(front, math.radians(-20))
            frame = max(max(prop.size) * SHOT_SIZES[size].prop_times, SHOT_SIZES[size].prop_min_m)
            pos, tgt = _place_camera(
                prop.center,
                frame,
                frame * aspect,
                look,
                "high" if cam_angle == "eye level" else cam_angle,
                focal,
                aspect,
            )
            return _unblocked(_clamped(Framing(pos, tgt, focal, roll, max(6.0, frame * 4)), blk), blk)
    if shot.kind == "vfx":
        fr = _vfx_framing(shot, blk, size, cam_angle, focal, aspect, roll)
        return _unblocked(fr, blk, keep=_named(shot, blk))
    if shot.kind in ("single", "ots") and (subject or actors):
        who = subject or actors[0]
        return _unblocked(_single(who, blk, size, cam_angle, focal, aspect, roll), blk, keep=[who])
    if shot.kind in ("master", "single") and (actors or (blk.actors and shot.kind == "master")):
        group = actors or list(blk.actors.values())
        if size == "EWS":
            return _environment(blk, size, cam_angle, focal, aspect, roll, establishing=False)
        return _group(group, blk, size, cam_angle, focal, aspect, roll)
    return _environment(blk, size, cam_angle, focal, aspect, roll, establishing=shot.kind == "establishing")


def _blocked_by(pos: np.ndarray, target: np.ndarray, blk: Blocking, keep=()) -> list[Actor]:
    """People (other than keep) standing between the camera and what it looks at."""
    samples = pos + (target - pos) * np.linspace(0.02, 0.85, 32)[:, None]  # near the target
    out = []  # end the subject's neighbours may share the frame
    for actor in blk.actors.values():
        if any(actor is k for k in keep):
            continue
        near = np.hypot(*(samples[:, :2] - actor.position[:2]).T) < 0.32
        within = (samples[:, 2] >= 0) & (samples[:, 2] <= actor.height + 0.05)
        if (near & within).any():
            out.append(actor)
    return out


def _unblocked(fr: Framing, blk: Blocking, keep=()) -> Framing:
    """Swing the camera round the target (same distance and height) until nobody
    stands in the way; the first clear angle wins, else the original."""
    if not _blocked_by(fr.position, fr.target, blk, keep):
        return fr
    offset = fr.position - fr.target
    for degrees in (-20, 20, -40, 40, -60, 60, -85, 85):
        turned = fr.target + _rotate(offset, math.radians(degrees)) + [0, 0, offset[2]]
        trial = _clamped(Framing(turned, fr.target, fr.focal_length, fr.roll, fr.radius), blk)
        if not _blocked_by(trial.position, trial.target, blk, keep):
            return trial
    return fr


def _rotate(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1], 0.0])


def _camera_side(v: np.ndarray, a: float) -> np.ndarray:
    """v turned by a towards the camera side (-Y) of the line of action."""
    left, right = _rotate(v, a), _rotate(v, -a)
    return left if left[1] < right[1] else right


def _body_frame(actor: Actor, size: str) -> tuple[np.ndarray, float]:
    bottom, top = SHOT_SIZES[size].body
    return actor.at((bottom + top) / 2), actor.height * (top - bottom)


def _single(who: Actor, blk, size, angle, focal, aspect, roll) -> Framing:
    look = _camera_side(who.facing, math.radians(28))
    if size == "EWS":
        return _group([who], blk, size, angle, focal, aspect, roll)
    target, frame_h = _body_frame(who, size)
    if size != "WS":
        target = target + who.facing * 0.05  # the face, not the back of the head
    pos, tgt = _place_camera(target, frame_h, 0.0, look, angle, focal, aspect, eye_z=who.eye[2])
    return _clamped(Framing(pos, tgt, focal, roll, max(8.0, frame_h * 5)), blk)


def _group(group: list[Actor], blk, size, angle, focal, aspect, roll) -> Framing:
    points = np.array([a.position for a in group])
    centre = points.mean(axis=0)
    look = np.array([-0.2, -1.0, 0.0])
    look /= np.linalg.norm(look)
    right = np.array([-look[1], look[0], 0.0])
    across = np.ptp(points @ right) + 1.0
    depth = np.ptp(points @ look)
    tallest = max(a.height for a in group)
    b, t = SHOT_SIZES[size].body
    frame_h = tallest * (t - b)
    target = centre + [0, 0, tallest * (b + t) / 2]
    eye = np.mean([a.eye[2] for a in group])
    pos, tgt = _place_camera(target, frame_h, across, look, angle, focal, aspect, eye_z=eye, depth=depth / 2)
    return _clamped(Framing(pos, tgt, focal, roll, max(10.0, frame_h * 4)), blk)


def _ots(subject: Actor, other: Actor, size, angle, focal, aspect, roll) -> Framing:
    """Behind the other's shoulder (camera side of the line), onto the subject."""
    axis = other.position - subject.position
    apart = float(np.linalg.norm(axis[:2]))
    u = axis / max(apart, 1e-6)
    side = np.array([-u[1], u[0], 0.0])
    if side[1] > 0:
        side = -side
    target, frame_h = _body_frame(subject, size if size != "WS" else "MS")
    ty = _fov(focal, aspect)[1]
    d = max(frame_h / 2 / ty, apart + 0.9)
    offset = max(0.35, min(0.75, 0.32 * d))
    pos = subject.position + u * d + side * offset
    pos[2] = {"low": other.at(0.62), "high": other.at(1.12), "overhead": other.at(1.3)}.get(angle, other.at(0.89))[2]
    # shift the aim so the subject sits on the third away from the shoulder
    aim = target.copy()
    aim -= side * (frame_h * aspect * 0.12)
    return Framing(pos, aim, focal, roll, 10.0)


def _vfx_framing(shot, blk: Blocking, size, angle, focal, aspect, roll) -> Framing:
    group = fx_group_of(shot, blk)
    lead = group.lead if group else shot_categories(shot)[0]
    anchor = group.anchor if group else blk.anchors.get("base", blk.stage)
    state = hero_state(shot, blk)
    look = _rotate(np.array([0.0, -1.0, 0.0]), math.radians(-14))  # from the front, a little left
    if not blk.exterior:
        frame_h = SHOT_SIZES[size].room_m
        if lead in ("debris", "dust", "shake", "smoke", "collapse", "explosion"):
            # the room with the people in it, under what is falling
            target = blk.stage + [0, 0, min(1.5, frame_h * 0.5 + 0.1)]
            if blk.actors:
                target[:2] = np.mean([a.position[:2] for a in blk.actors.values()], axis=0)
        else:
            target = anchor - [0, 0.1, 0]
        pos, tgt = _place_camera(target, frame_h, 0.0, look, angle, focal, aspect, eye_z=1.6)
        return _clamped(Framing(pos, tgt, focal, roll, 10.0), blk)
    hero = blk.hero
    if hero is not None and state != "ruins" and lead in ("collapse", "explosion", "dust", "smoke"):
        lean = 1.15 if state == "collapsing" else 1.0
        if size in ("EWS", "WS"):
            frame_h = hero.height * (1.5 if size == "EWS" else 1.12) * lean
            target = np.array([-hero.footprint[0] * 0.1 * (lean - 1) * 6, 0.0, frame_h * 0.42])
            pos, tgt = _place_camera(
                target,
                frame_h,
                hero.footprint[0] * 1.6,
                look,
                angle,
                focal,
                aspect,
                eye_z=1.7,
                depth=hero.footprint[1] / 2,
            )
            return _clamped(Framing(pos, tgt, focal, roll, hero.height * 1.6), blk)
    if (
        hero is not None
        and state == "ruins"
        and (size in ("EWS", "WS") or lead in ("debris", "dust", "smoke", "shake", "fire"))
    ):
        # the heap's near edge, where the people are, rather than the middle of it
        frame_h = SHOT_SIZES[size].place_m * (0.6 if size in ("EWS", "WS") else 1.0)
        edge = blk.anchors["rubble_front"][1]
        target = np.array([(blk.stage[0] + blk.anchors["rubble"][0]) / 2, edge + 2.5, frame_h * 0.4])
        named = _named(shot, blk)
        if named:  # "Maya stands at the edge of the rubble": her, and the heap behind her
            where = np.mean([a.position for a in named], axis=0)
            target = np.array([where[0], (where[1] + edge) / 2 + 1.0, frame_h * 0.4])
        pos, tgt = _place_camera(target, frame_h, 0.0, look, angle, focal, aspect, eye_z=1.7)
        return _clamped(Framing(pos, tgt, focal, roll, 40.0), blk)
    frame_h = SHOT_SIZES[size].place_m
    if VFX_CATEGORIES[lead].small and size in ("MS", "MCU"):
        frame_h *= 0.6  # a medium shot of sparks or a crack is still about the sparks
    target = np.asarray(anchor, float).copy()
    if lead in ("collapse", "explosion", "debris", "dust", "shake", "smoke") or frame_h > 3:
        target[2] = max(target[2], frame_h * 0.4)
    target[1] -= 0.2
    pos, tgt = _place_camera(target, frame_h, 0.0, look, angle, focal, aspect, eye_z=target[2])
    return _clamped(Framing(pos, tgt, focal, roll, max(10.0, frame_h * 3)), blk)


def _named(shot: Shot, blk: Blocking) -> list[Actor]:
    """People the shot's description names."""
    return [a for name, a in blk.actors.items() if re.search(rf"\b{re.escape(name)}\b", shot.description, re.I)]


def _environment(blk: Blocking, size, angle, focal, aspect, roll, establishing: bool) -> Framing:
    if not blk.exterior:
        x0, x1, y0, y1, h = blk.room
        # establishing: from the front corner, above head height; otherwise straight on
        look = _rotate(np.array([0.0, -1.0, 0.0]), math.radians(-28 if establishing else -12))
        target = np.array([0.3, (blk.stage[1] + y1) / 2, 1.3])
        frame_w = (x1 - x0) * (0.95 if size in ("EWS", "WS") else 0.6)
        pos, tgt = _place_camera(target, 0.0, frame_w, look, angle, focal, aspect, eye_z=2.3 if establishing else 1.6)
        return _clamped(Framing(pos, tgt, focal, roll, 12.0), blk)
    hero_h = blk.hero.height if blk.hero else 16.0
    look = _rotate(np.array([0.0, -1.0, 0.0]), math.radians(-32))
    # the building and the people in front of it
    target = np.array([0.0, blk.front * 0.6 + blk.stage[1] * 0.4, hero_h * 0.38])
    frame_h = hero_h * (1.3 if size == "EWS" else 1.1)
    if not establishing and size not in ("EWS", "WS"):
        frame_h = SHOT_SIZES[size].place_m
        target = blk.stage + [0, 0, frame_h * 0.45]
    pos, tgt = _place_camera(
        target,
        frame_h,
        0.0,
        look,
        "high" if establishing and angle == "high" else angle,
        focal,
        aspect,
        eye_z=1.7,
        depth=8.0,
    )
    return _clamped(Framing(pos, tgt, focal, roll, max(30.0, hero_h * 1.8)), blk)


def _clamped(fr: Framing, blk: Blocking) -> Framing:
    """Keep the camera on the set: inside the room, out of the buildings, above ground."""
    pos = fr.position.copy()
    if blk.room is not None:
        x0, x1, y0, y1, h = blk.room
        pos[0] = min(max(pos[0], x0 + 0.25), x1 - 0.25)
        pos[1] = min(max(pos[1], y0 + 0.3), y1 - 0.25)
    elif pos[2] < blk.tallest + 2:
        pos[1] = min(pos[1], blk.front - 0.6)
        if blk.hero is not None and "rubble_front" in blk.anchors and pos[2] < 8:
            pos[1] = min(pos[1], blk.anchors["rubble_front"][1] - 1.5)
    pos[2] = max(pos[2], 0.2)
    if np.linalg.norm(pos - fr.target) < 0.2:
        pos = pos - np.array([0, 0.3, 0])
    return Framing(pos, fr.target, fr.focal_length, fr.roll, fr.radius)
