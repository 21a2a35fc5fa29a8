"""Sim stage: rigid-body collapse on Bullet (pybullet) with breakable glue.

Each cluster of fragments is one compound body (base fragment plus fixed
links), so while the building stands the solver sees a hundred-odd bodies.
Neighbouring clusters are glued by fixed constraints whose strength is the
glued contact area times the material's glue strength; a constraint breaks
when the force it carries exceeds that. A cluster that takes a hard impact
shatters into loose fragments. Nothing moves before the trigger: the
intact building is exactly at rest. Same spec + seed gives the same motion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from setpiece.artifacts import Event, Fragments, Motion, quat_to_matrix
from setpiece.spec import ShotSpec
from setpiece.world.building import Building

GRAVITY = 9.81
SHATTER_DV = 3.5  # m/s change of velocity in one frame that shatters a cluster
IMPACT_DV = 2.0  # m/s change that counts as an impact event for dust
SETTLE_TIME = 0.5  # s of unrecorded settling under dead load before the trigger
SAFETY = 2.0  # bonds carry this multiple of their settled dead load
CREEP_SPEED = 0.3  # m/s below which a body counts as at rest


@dataclass
class _Body:
    uid: int
    members: np.ndarray  # fragment indices
    anchor: np.ndarray  # rest position of the body's frame origin
    mass: float
    last_velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))


@dataclass
class _Glue:
    uid: int
    a: int  # cluster ids
    b: int
    strength: float  # N


def simulate(spec: ShotSpec, building: Building, frags: Fragments, rng: np.random.Generator, progress=None) -> Motion:
    """spec needs shot.frames, shot.fps, trigger and sim; rng draws the blast kicks."""
    return _World(spec, building, frags, rng).run(progress)


class _World:
    def __init__(self, spec: ShotSpec, building: Building, frags: Fragments, rng: np.random.Generator):
        import pybullet

        self.pb = pybullet
        self.spec, self.building, self.frags = spec, building, frags
        self.client = pybullet.connect(pybullet.DIRECT)
        self.dt = 1.0 / (spec.shot.fps * spec.sim.substeps)
        pb = self.pb
        pb.setGravity(0, 0, -GRAVITY, physicsClientId=self.client)
        pb.setPhysicsEngineParameter(
            fixedTimeStep=self.dt,
            numSolverIterations=30,
            contactERP=0.8,
            deterministicOverlappingPairs=1,
            physicsClientId=self.client,
        )
        ground = pb.createCollisionShape(pb.GEOM_PLANE, physicsClientId=self.client)
        self.ground = pb.createMultiBody(0, ground, physicsClientId=self.client)
        self._material(self.ground)
        self.masses = frags.volumes * building.density
        self.shapes = [self._shape(i) for i in range(len(frags))]
        self.bodies: dict[int, _Body] = {}
        self.owner = np.full(len(frags), -1)  # fragment -> body key
        self.events: list[Event] = []
        self.hidden = np.zeros(len(frags), bool)
        self._next_key = 0
        for c in range(frags.n_clusters):
            self._add_body(np.flatnonzero(frags.cluster == c), np.zeros(3), np.zeros(3), static_rest=True)
        self.glue = self._make_glue()
        self.rng = rng

    # --- construction -------------------------------------------------
    def _shape(self, i: int) -> int:
        local = self.frags.vertices[i] - self.frags.centroids[i]
        return self.pb.createCollisionShape(self.pb.GEOM_MESH, vertices=local.tolist(), physicsClientId=self.client)

    def _material(self, uid: int, links: int = 0) -> None:
        for link in range(-1, links):
            self.pb.changeDynamics(
                uid,
                link,
                lateralFriction=self.spec.sim.friction,
                restitution=self.spec.sim.restitution,
                linearDamping=0.02,
                angularDamping=0.05,
                physicsClientId=self.client,
            )

    def _add_body(
        self, members: np.ndarray, velocity: np.ndarray, spin: np.ndarray, static_rest: bool = False, pose=None
    ) -> int:
        """One compound body: the member nearest the centre is the base, the rest fixed links."""
        c = self.frags.centroids
        centre = np.average(c[members], axis=0, weights=self.masses[members])
        members = members[np.argsort(np.linalg.norm(c[members] - centre, axis=1), kind="stable")]
        base = members[0]
        pos, orn = pose if pose is not None else (c[base], (0, 0, 0, 1))
        links = members[1:]
        pb = self.pb
        uid = pb.createMultiBody(
            baseMass=float(self.masses[base]),
            baseCollisionShapeIndex=self.shapes[base],
            basePosition=list(map(float, pos)),
            baseOrientation=list(map(float, orn)),
            linkMasses=[float(self.masses[k]) for k in links],
            linkCollisionShapeIndices=[self.shapes[k] for k in links],
            linkVisualShapeIndices=[-1] * len(links),
            linkPositions=[(c[k] - c[base]).tolist() for k in links],
            linkOrientations=[[0, 0, 0, 1]] * len(links),
            linkInertialFramePositions=[[0, 0, 0]] * len(links),
            linkInertialFrameOrientations=[[0, 0, 0, 1]] * len(links),
            linkParentIndices=[0] * len(links),
            linkJointTypes=[pb.JOINT_FIXED] * len(links),
            linkJointAxis=[[0, 0, 1]] * len(links),
            physicsClientId=self.client,
        )
        self._material(uid, len(links))
        pb.resetBaseVelocity(uid, list(map(float, velocity)), list(map(float, spin)), physicsClientId=self.client)
        key = self._next_key
        self._next_key += 1
        self.bodies[key] = _Body(
            uid, members, c[base].copy(), float(self.masses[members].sum()), np.asarray(velocity, float)
        )
        self.owner[members] = key
        return key

    def _make_glue(self) -> list[_Glue]:
        f = self.frags
        strength = self.building.glue_strength * self.spec.sim.glue_scale
        pairs: dict[tuple[int, int], list] = {}
        for (i, j), area in zip(f.bonds, f.bond_area):
            a, b = self.owner[i], self.owner[j]
            if a != b:
                key = (min(a, b), max(a, b))
                pairs.setdefault(key, []).append(((f.centroids[i] + f.centroids[j]) / 2, area))
        glue = []
        for (a, b), contacts in sorted(pairs.items()):
            points = np.array([p for p, _ in contacts])
            areas = np.array([ar for _, ar in contacts])
            pivot = np.average(points, axis=0, weights=areas)
            ba, bb = self.bodies[a], self.bodies[b]
            uid = self.pb.createConstraint(
                ba.uid,
                -1,
                bb.uid,
                -1,
                self.pb.JOINT_FIXED,
                [0, 0, 0],
                (pivot - ba.anchor).tolist(),
                (pivot - bb.anchor).tolist(),
                physicsClientId=self.client,
            )
            self.pb.changeConstraint(uid, maxForce=1e12, physicsClientId=self.client)
            glue.append(_Glue(uid, a, b, float(areas.sum() * strength)))
        return glue

    # --- stepping -----------------------------------------------------
    def run(self, progress=None) -> Motion:
        try:
            return self._run(progress)
        finally:  # the Bullet client is freed even when the sim fails or is interrupted
            self.pb.disconnect(self.client)

    def _run(self, progress) -> Motion:
        spec = self.spec
        n, frames = len(self.frags), spec.shot.frames
        rot = np.zeros((frames, n, 4), np.float32)
        rot[..., 3] = 1.0
        trans = np.zeros((frames, n, 3), np.float32)
        visible = np.ones((frames, n), bool)
        trigger_frame = math.ceil(spec.trigger.time * spec.shot.fps)
        for frame in range(frames):
            if frame == trigger_frame:
                self._settle()
                self._trigger(frame / spec.shot.fps)
            if frame >= trigger_frame:
                for _ in range(spec.sim.substeps):
                    self.pb.stepSimulation(physicsClientId=self.client)
                    self._break_glue(frame / spec.shot.fps)
                self._after_frame(frame / spec.shot.fps)
            self._record(rot[frame], trans[frame])
            visible[frame] = ~self.hidden
            if progress:
                progress(frame + 1, frames)
        return Motion(rot, trans, visible, self.events, spec.shot.fps)

    def _settle(self) -> None:
        """Let the intact structure take its own weight with unbreakable glue, then
        make every bond at least SAFETY times as strong as its dead load: a real
        building is designed to stand, so only the trigger's load paths fail."""
        steps = int(SETTLE_TIME / self.dt)
        peak = np.zeros(len(self.glue))
        for step in range(steps):
            self.pb.stepSimulation(physicsClientId=self.client)
            if step >= steps // 2:
                peak = np.maximum(peak, [self._load(g) for g in self.glue])
        # lightly loaded bonds see the largest relative creep, so no bond is
        # rated below the typical dead load
        floor = float(np.median(peak)) if len(peak) else 0.0
        for g, load in zip(self.glue, peak):
            g.strength = max(g.strength, SAFETY * max(load, floor))
        for body in self.bodies.values():
            body.last_velocity = np.asarray(self.pb.getBaseVelocity(body.uid, physicsClientId=self.client)[0])

    def _load(self, g: _Glue) -> float:
        state = self.pb.getConstraintState(g.uid, physicsClientId=self.client)
        return math.sqrt(sum(x * x for x in state[:3])) + math.sqrt(sum(x * x for x in state[3:6]))

    def _moving(self, g: _Glue) -> bool:
        """Glue fails only where the structure moves: an overload reading between
        bodies at rest is solver creep in a redundant frame, not a failure."""
        for key in (g.a, g.b):
            lin = self.pb.getBaseVelocity(self.bodies[key].uid, physicsClientId=self.client)[0]
            if lin[0] * lin[0] + lin[1] * lin[1] + lin[2] * lin[2] > CREEP_SPEED**2:
                return True
        return False

    def _trigger(self, time: float) -> None:
        """Take out the chosen storeys' supports (charges also blast them outward)."""
        t = self.spec.trigger
        building, f = self.building, self.frags
        centre = np.array([0.0, 0.0, 0.0])
        for key in sorted(self.bodies):
            body = self.bodies[key]
            elems = [building.elements[e] for e in f.element[body.members]]
            if not all(e.is_support and e.floor in t.floors for e in elems):
                continue
            if not _on_side(f.centroids[body.members].mean(axis=0), t.side, building.footprint):
                continue
            if t.kind == "charges":
                self._shatter(key, time, t.charge_impulse, centre, kind="break")
            else:
                self._pulverise(key, time)

    def _pulverise(self, key: int, time: float) -> None:
        """Supports cut by the trigger turn to dust: their fragments leave the sim."""
        body = self.bodies.pop(key)
        self._drop_glue_of(key)
        self.pb.removeBody(body.uid, physicsClientId=self.client)
        self.hidden[body.members] = True
        centre = self.frags.centroids[body.members].mean(axis=0)
        self.events.append(Event(time, tuple(map(float, centre)), body.mass, 8.0, "break"))

    def _shatter(self, key: int, time: float, kick: float, centre: np.ndarray, kind: str) -> None:
        body = self.bodies.pop(key)
        pb = self.pb
        pos, orn = pb.getBasePositionAndOrientation(body.uid, physicsClientId=self.client)
        lin, ang = pb.getBaseVelocity(body.uid, physicsClientId=self.client)
        self._drop_glue_of(key)
        pb.removeBody(body.uid, physicsClientId=self.client)
        rot = quat_to_matrix(np.array([orn]))[0]
        c = self.frags.centroids
        for k in body.members:
            world = np.asarray(pos) + rot @ (c[k] - body.anchor)
            away = world - centre
            away[2] = 0.3 * abs(away[2]) + 0.2
            kick_v = kick * away / (np.linalg.norm(away) + 1e-9) * self.rng.uniform(0.5, 1.0)
            v = np.asarray(lin) + np.cross(ang, world - np.asarray(pos)) + kick_v
            self._add_body(np.array([k]), v, np.asarray(ang), pose=(world, orn))
        speed = float(np.linalg.norm(lin)) + kick
        self.events.append(Event(time, tuple(map(float, pos)), body.mass, speed, kind))

    def _drop_glue_of(self, key: int) -> None:
        keep = []
        for g in self.glue:
            if key in (g.a, g.b):
                self.pb.removeConstraint(g.uid, physicsClientId=self.client)
            else:
                keep.append(g)
        self.glue = keep

    def _break_glue(self, time: float) -> None:
        keep = []
        for g in self.glue:
            if self._load(g) > g.strength and self._moving(g):
                self.pb.removeConstraint(g.uid, physicsClientId=self.client)
                self.events.append(self._crack(g, time))
            else:
                keep.append(g)
        self.glue = keep

    def _crack(self, g: _Glue, time: float) -> Event:
        """A bond giving way: the material at the joint (a tenth of the lighter
        body) parting at the bodies' relative speed."""
        a, b = self.bodies[g.a], self.bodies[g.b]
        pos, _ = self.pb.getBasePositionAndOrientation(a.uid, physicsClientId=self.client)
        va = np.asarray(self.pb.getBaseVelocity(a.uid, physicsClientId=self.client)[0])
        vb = np.asarray(self.pb.getBaseVelocity(b.uid, physicsClientId=self.client)[0])
        mass = 0.1 * min(a.mass, b.mass)
        return Event(time, tuple(map(float, pos)), mass, float(np.linalg.norm(va - vb)), "crack")

    def _after_frame(self, time: float) -> None:
        """Impacts: shatter clusters that were hit hard, log dust events, clamp runaway speeds."""
        pb, limit = self.pb, self.spec.sim.max_speed
        for key in sorted(self.bodies):
            body = self.bodies[key]
            lin, ang = pb.getBaseVelocity(body.uid, physicsClientId=self.client)
            lin = np.asarray(lin)
            dv = float(np.linalg.norm(lin - body.last_velocity))
            body.last_velocity = lin
            if dv > IMPACT_DV:
                pos, _ = pb.getBasePositionAndOrientation(body.uid, physicsClientId=self.client)
                if len(body.members) > 1 and dv > SHATTER_DV:
                    self._shatter(key, time, 0.0, np.asarray(pos), kind="impact")
                    continue
                self.events.append(Event(time, tuple(map(float, pos)), body.mass, dv, "impact"))
            speed = float(np.linalg.norm(lin))
            if speed > limit:
                pb.resetBaseVelocity(body.uid, (lin * limit / speed).tolist(), ang, physicsClientId=self.client)

    def _record(self, rot_out: np.ndarray, trans_out: np.ndarray) -> None:
        pb = self.pb
        for body in self.bodies.values():
            pos, orn = pb.getBasePositionAndOrientation(body.uid, physicsClientId=self.client)
            r = quat_to_matrix(np.array([orn]))[0]
            rot_out[body.members] = orn
            trans_out[body.members] = np.asarray(pos) - r @ body.anchor


def _on_side(point: np.ndarray, side: str, footprint: tuple[float, float]) -> bool:
    x, y = point[0] / footprint[0], point[1] / footprint[1]
    return {"all": True, "left": x < 0.1, "right": x > -0.1, "front": y < 0.1, "back": y > -0.1}[side]
