"""Sim stage: the collapse on Bullet (pybullet), with a bond graph that fails at joints first.

Why Bullet: measured against MuJoCo on the same rubble (bench/sim_engines.md),
Bullet with our own sleeping settles 3,000 loose pieces several times faster
on 2 cores, and it can add and remove bodies while it runs, which splitting
compound bodies needs.

How the building comes down:
- Standing structure is not simulated: every piece of it is a static body
  and a load-flow model carries each piece's weight down the bond graph to the
  ground (each piece hands its load to neighbours nearer the ground along the
  structure, in proportion to the glued area). A bond whose flow exceeds its
  capacity breaks. Capacities are the glued area times the material strength
  (joints between members weaker, cluster borders weaker than cluster
  interiors), and at least SAFETY times the bond's flow in the intact
  building: the building stands until the trigger changes the load paths.
- A connected group of pieces that no longer reaches the ground becomes one
  compound rigid body (one solver body however many pieces) and falls.
- Fracture on impact: when a compound body loses speed in a hit, part of the
  kinetic energy it lost breaks its bonds nearest the contact (each bond
  absorbs its capacity times CRUSH_DEPTH), and part breaks the static
  structure it landed on (crush-up). The crushed pieces are thrown outward
  with a share of that energy; the part of the body above the crushed zone
  keeps falling with what energy is left. No energy is ever added.
- Landing loads: a compound body that bears on the ground carries, in every
  piece, its mass times its acceleration less gravity (nothing in free fall,
  its weight at rest, many times it in a hard landing, plus the pull of its
  spin). Those loads flow through its bonds to the pieces touching the
  ground, by the same load-flow model; a bond loaded past its capacity
  breaks and the parts move on as they were moving. A toppled block that
  lands on its edge breaks up this way; so does one that cannot carry itself
  lying on its side.
- The standing structure's overloaded bonds break worst first (those within
  BREAK_FRONT of the worst ratio each round), so a side that tears away stops
  loading the rest before the rest is judged.
- Pieces at rest for a few frames turn static (sleep) and wake when the bodies
  around them change; bodies of many pieces never sleep. A body a heavy
  landing pushed into the ground is lifted back onto it.
- Trigger modes: implode cuts the trigger storeys' supports all round (the
  block falls into its footprint and crushes down, then crushes up what it
  lands on); topple cuts a felling wedge on `trigger.side` and frees the
  supports left on the far side from what they carry, so the building turns
  about them; partial cuts the side's supports beyond PARTIAL_REACH on the
  trigger storeys and tears that side, from the lowest storey hit up, away
  from the rest (weak bonds across the line, no reserve on the side, the rest
  designed to stand alone), so the side comes down and the rest stands. The
  cut storeys' glass is stripped, as crews do.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from setpiece.artifacts import Event, Fragments, Motion, quat_to_matrix
from setpiece.spec import ShotSpec
from setpiece.world.building import Building

GRAVITY = 9.81
JOINT_FACTOR = 0.35  # bonds between members carry this share of the material's strength
CLUSTER_FACTOR = 0.7  # bonds between clusters of one member
SAFETY = 1.5  # bonds carry this multiple of their load in the intact building
CRUSH_DEPTH = 0.04  # m a bond yields before it parts: its fracture energy is capacity x this
FRACTURE_SHARE = 0.5  # of the energy a hit takes that breaks bonds
KICK_SHARE = 0.2  # of the energy a hit takes that throws the crushed pieces
CRUSH_UP = 0.4  # of the fracture energy that goes into static structure that was hit
IMPACT_DV = 2.0  # m/s change of velocity in a frame that counts as a hit
CRUSH_MASS = 2000.0  # kg: lighter bodies do not crush what they hit
EVENT_MOMENTUM = 300.0  # kg m/s below which a hit of a loose piece makes no dust event
SLEEP_SPEED = 0.25  # m/s
SLEEP_SPIN = 0.6  # rad/s
SLEEP_FRAMES = 4
PARTIAL_REACH = 0.15  # partial: supports on the side's outer third go
SETTLE_ROUNDS = 400  # at most this many load-flow rounds after a change to the standing structure
BREAK_FRONT = 0.5  # a round breaks the bonds loaded within this share of the worst one's ratio
TEAR_SHARE = 0.2  # partial: strength left in the bonds that tie the failing side to the rest
WEDGE_STOREYS = 3  # topple: storeys of the felling wedge
WEDGE_STEP = 0.3  # each storey up the wedge is cut this share of the width less deep
SLEEP_MEMBERS = 12  # bodies of more pieces never sleep
CUT_SPEED = 8.0  # m/s of the material a cut or charge throws off a support
GROUND_EPS = 0.02  # m: pieces this close to z = 0 stand on the ground
GROUND_SINK = 0.02  # m: a body sunk deeper into the ground is lifted back onto it
SOLVER_ITERATIONS = 10
# Bullet's default: a stiffer one (0.8) pins a building pivoting on an edge, whose corner the
# solver keeps pushing back out of the support every step (topple's hinge gets softer still);
# deep sinks into the ground are handled by _keep_above_ground instead
CONTACT_ERP = 0.2
HINGE_STIFFNESS = 1e10  # N/m: topple's hinge contacts...
HINGE_ERP = 0.05  # ...correct this share of their overlap a step
KICK_CAP = 6.0  # m/s
THIN_MIN = 0.25  # m
CCD_SHARE = 0.25  # swept-sphere radius as a share of the piece size


@dataclass
class _Body:
    uid: int
    members: np.ndarray  # fragment indices
    com: np.ndarray  # centre of mass in the rest pose
    mass: float
    static: bool
    inertia: tuple = (0.0, 0.0, 0.0)
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))
    energy: float = 0.0  # kinetic, at the end of the last frame
    spin: np.ndarray = field(default_factory=lambda: np.zeros(3))
    still: int = 0
    frozen: bool = False
    pose: tuple | None = None  # (pos, orn) cached while frozen or static
    dv: tuple | None = None  # (linear, angular) velocity change over the last frame


def simulate(spec: ShotSpec, building: Building, frags: Fragments, rng: np.random.Generator, progress=None) -> Motion:
    """spec needs shot.frames, shot.fps, trigger and sim; rng draws the blast and crush kicks."""
    return _World(spec, building, frags, rng).run(progress)


class _World:
    def __init__(self, spec: ShotSpec, building: Building, frags: Fragments, rng: np.random.Generator):
        import pybullet

        self.pb = pybullet
        self.spec, self.building, self.frags, self.rng = spec, building, frags, rng
        self.client = pybullet.connect(pybullet.DIRECT)
        self.tmp = tempfile.TemporaryDirectory(prefix="setpiece-sim-")
        self.dt = 1.0 / (spec.shot.fps * spec.sim.substeps)
        pb = self.pb
        pb.setGravity(0, 0, -GRAVITY, physicsClientId=self.client)
        pb.setPhysicsEngineParameter(
            fixedTimeStep=self.dt,
            numSolverIterations=SOLVER_ITERATIONS,
            contactERP=CONTACT_ERP,
            deterministicOverlappingPairs=1,
            physicsClientId=self.client,
        )
        plane = pb.createCollisionShape(pb.GEOM_PLANE, physicsClientId=self.client)
        self.ground = pb.createMultiBody(0, plane, physicsClientId=self.client)
        self._material(self.ground)
        n = len(frags)
        self.masses = frags.volumes * building.densities()[frags.element]
        self.bottom = np.array([v[:, 2].min() for v in frags.vertices])
        glass = np.array([e.material == "glass" for e in building.elements])[frags.element]
        self.glass = glass
        self.footing = ~glass & (self.bottom < GROUND_EPS)  # glass carries nothing to the ground
        most = max(len(v) for v in frags.vertices)
        self.padded = np.array([np.vstack([v, np.repeat(v[:1], most - len(v), axis=0)]) for v in frags.vertices])
        self.radius = np.array([np.linalg.norm(v - c, axis=1).max() for v, c in zip(frags.vertices, frags.centroids)])
        self.intact = np.ones(len(frags.bonds), bool)
        self.capacity = self._capacities()
        self.bodies: dict[int, _Body] = {}
        self.by_uid: dict[int, int] = {}
        self.owner = np.full(n, -1)
        self.hidden = np.zeros(n, bool)
        self.events: list[Event] = []
        self._next_key = 0
        self._files = 0
        self.falls = np.zeros(n, bool)  # partial: the failing side's pieces
        self.seam: list[int] = []  # partial: pieces of the rest along the tear, which those pass

    # --- bonds and loads ---------------------------------------------------
    def _capacities(self) -> np.ndarray:
        rest = self._flows(np.ones(len(self.frags), bool))
        return self.spec.sim.glue_scale * np.maximum(self._strength(), SAFETY * rest)

    def _strength(self) -> np.ndarray:
        """What each bond carries by its glued area and material alone (N)."""
        f, b = self.frags, self.building
        strength = np.array([b.material(e.material)[1] for e in b.elements])
        i, j = f.bonds[:, 0], f.bonds[:, 1]
        sigma = np.minimum(strength[f.element[i]], strength[f.element[j]])
        factor = np.where(
            f.element[i] != f.element[j], JOINT_FACTOR, np.where(f.cluster[i] != f.cluster[j], CLUSTER_FACTOR, 1.0)
        )
        return f.bond_area * sigma * factor

    def _graph(self, nodes: np.ndarray, weights: np.ndarray | None = None):
        """Sparse graph of the intact bonds between the given pieces (bool mask)."""
        f, n = self.frags, len(self.frags)
        keep = self.intact & nodes[f.bonds[:, 0]] & nodes[f.bonds[:, 1]]
        i, j = f.bonds[keep, 0], f.bonds[keep, 1]
        w = np.ones(len(i)) if weights is None else weights[keep]
        return coo_matrix((np.r_[w, w], (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr(), keep

    def _flows(self, nodes: np.ndarray, anchors: np.ndarray | None = None, loads: np.ndarray | None = None):
        """Load (N) each intact bond carries when the given pieces' loads (default: their weight)
        flow to the anchors (default: the pieces standing on the ground)."""
        f = self.frags
        flow = np.zeros(len(f.bonds))
        length = np.linalg.norm(f.centroids[f.bonds[:, 0]] - f.centroids[f.bonds[:, 1]], axis=1) + 1e-3
        graph, keep = self._graph(nodes, length)
        anchors = np.flatnonzero(nodes & (self.footing if anchors is None else anchors))
        if not len(anchors):
            return flow
        dist = dijkstra(graph, indices=anchors, min_only=True)
        load = np.where(np.isfinite(dist), self.masses * GRAVITY if loads is None else loads, 0.0)
        adj: dict[int, list[tuple[int, int]]] = {}
        for b in np.flatnonzero(keep):
            i, j = f.bonds[b]
            adj.setdefault(i, []).append((j, b))
            adj.setdefault(j, []).append((i, b))
        reached = np.flatnonzero(np.isfinite(dist) & (dist > 0.0))
        for i in reached[np.argsort(-dist[reached], kind="stable")]:
            down = [(j, b) for j, b in adj.get(i, ()) if dist[j] < dist[i]]
            total = sum(f.bond_area[b] for _, b in down)
            for j, b in down:
                share = load[i] * f.bond_area[b] / total
                flow[b] += share
                load[j] += share
        return flow

    # --- bodies -------------------------------------------------------------
    def _material(self, uid: int) -> None:
        self.pb.changeDynamics(
            uid,
            -1,
            lateralFriction=self.spec.sim.friction,
            restitution=self.spec.sim.restitution,
            linearDamping=0.02,
            angularDamping=0.1,
            physicsClientId=self.client,
        )

    def _shape(self, members: np.ndarray, com: np.ndarray) -> int:
        f, pb = self.frags, self.pb
        if len(members) == 1:
            local = f.vertices[members[0]] - com
            # thin shards collide as if THIN_MIN thick: Bullet lets thinner ones sink into the ground
            extent = np.ptp(local, axis=0)
            thin = int(np.argmin(extent))
            if extent[thin] < THIN_MIN:
                local = local.copy()
                local[:, thin] *= THIN_MIN / max(extent[thin], 1e-6)
            return pb.createCollisionShape(pb.GEOM_MESH, vertices=local.tolist(), physicsClientId=self.client)
        # pybullet builds a compound of convex hulls from an OBJ file with one object per piece
        lines, offset = [], 1
        for k in members:
            v = f.vertices[k] - com
            lines.append(f"o p{k}")
            lines += [f"v {x:.5f} {y:.5f} {z:.5f}" for x, y, z in v]
            lines += [f"f {a + offset} {b + offset} {c + offset}" for a, b, c in f.faces[k]]
            offset += len(v)
        self._files += 1
        path = Path(self.tmp.name) / f"body_{self._files}.obj"
        path.write_text("\n".join(lines))
        return pb.createCollisionShape(pb.GEOM_MESH, fileName=str(path), physicsClientId=self.client)

    def _inertia(self, members: np.ndarray, com: np.ndarray, mass: float) -> tuple:
        f = self.frags
        rel = f.centroids[members] - com
        m = self.masses[members]
        spread = (m * self.radius[members] ** 2 * 0.4)[:, None] + m[:, None] * (
            np.c_[rel[:, 1] ** 2 + rel[:, 2] ** 2, rel[:, 0] ** 2 + rel[:, 2] ** 2, rel[:, 0] ** 2 + rel[:, 1] ** 2]
        )
        return tuple(float(x) for x in np.maximum(spread.sum(axis=0), 1e-3 * mass))

    def _add(self, members: np.ndarray, static: bool, pose=None, velocity=(0, 0, 0), spin=(0, 0, 0)) -> int:
        """One body of the given pieces; pose is the parent's (pos of rest point `anchor`, orn)."""
        pb, f = self.pb, self.frags
        mass = float(self.masses[members].sum())
        com = np.average(f.centroids[members], axis=0, weights=self.masses[members])
        if pose is None:
            pos, orn = com, (0.0, 0.0, 0.0, 1.0)
        else:
            anchor, ppos, orn = pose
            pos = np.asarray(ppos) + quat_to_matrix(np.array([orn]))[0] @ (com - anchor)
        shape = self._shape(members, com)
        uid = pb.createMultiBody(
            0.0 if static else mass,
            shape,
            basePosition=[float(x) for x in pos],
            baseOrientation=[float(x) for x in orn],
            useMaximalCoordinates=True,
            physicsClientId=self.client,
        )
        self._material(uid)
        body = _Body(uid, members, com, mass, static, pose=(tuple(map(float, pos)), tuple(map(float, orn))))
        if not static:
            body.inertia = self._inertia(members, com, mass)
            pb.changeDynamics(uid, -1, mass=mass, localInertiaDiagonal=body.inertia, physicsClientId=self.client)
            if len(members) == 1:  # continuous collision: fast small pieces must not sink into the ground
                radius = CCD_SHARE * float(np.ptp(f.vertices[members[0]], axis=0).max())
                pb.changeDynamics(uid, -1, ccdSweptSphereRadius=radius, physicsClientId=self.client)
            velocity = np.asarray(velocity, float)
            pb.resetBaseVelocity(uid, velocity.tolist(), list(map(float, spin)), physicsClientId=self.client)
            body.velocity = velocity
            body.energy = self._kinetic(body, orn, velocity, np.asarray(spin, float))
        key = self._next_key
        self._next_key += 1
        self.bodies[key] = body
        self.by_uid[uid] = key
        self.owner[members] = key
        if not static and self.falls[members].any():
            for k in self.seam:
                other = self.bodies.get(self.owner[k])
                if other is not None and other.static:
                    self.pb.setCollisionFilterPair(uid, other.uid, -1, -1, 0, physicsClientId=self.client)
        return key

    def _remove(self, key: int) -> _Body:
        body = self.bodies.pop(key)
        self.by_uid.pop(body.uid)
        if not body.static:
            self._wake_near(body)
        self.pb.removeBody(body.uid, physicsClientId=self.client)
        return body

    def _state(self, body: _Body):
        pb = self.pb
        if body.static or body.frozen:
            return np.asarray(body.pose[0]), body.pose[1], np.zeros(3), np.zeros(3)
        pos, orn = pb.getBasePositionAndOrientation(body.uid, physicsClientId=self.client)
        lin, ang = pb.getBaseVelocity(body.uid, physicsClientId=self.client)
        return np.asarray(pos), orn, np.asarray(lin), np.asarray(ang)

    def _world_centroids(self, body: _Body) -> np.ndarray:
        pos, orn, _, _ = self._state(body)
        rot = quat_to_matrix(np.array([orn]))[0]
        return (self.frags.centroids[body.members] - body.com) @ rot.T + pos

    def _split(self, key: int, crushed: np.ndarray, lost: float, spent: float, before: tuple) -> None:
        """Replace a body by its glued components; crushed pieces are thrown with KICK_SHARE of the
        energy `lost`, the rest of the body keeps what energy is left of its motion before the hit
        (`before`: velocity, spin and kinetic energy at the end of the last frame)."""
        v_before, spin_before, energy_before = before
        body = self.bodies[key]
        members = body.members
        mask = np.zeros(len(self.frags), bool)
        mask[members] = True
        graph, _ = self._graph(mask)
        _, labels = connected_components(graph, directed=False)
        groups = {}
        for k in members:
            groups.setdefault(labels[k], []).append(k)
        if len(groups) == 1:
            return
        pos, orn, lin, ang = self._state(body)
        self._remove(key)
        parts = [np.array(sorted(g)) for _, g in sorted(groups.items(), key=lambda kv: min(kv[1]))]
        hit = [bool(crushed[p].any()) for p in parts]
        m_hit = sum(self.masses[p].sum() for p, h in zip(parts, hit) if h)
        m_rest = body.mass - m_hit
        kick_energy = KICK_SHARE * lost
        kick = min(KICK_CAP, math.sqrt(2 * kick_energy / m_hit)) if m_hit > 0 else 0.0
        left = max(0.0, lost - spent - kick_energy)
        share = energy_before * m_rest / body.mass  # the intact part's kinetic energy before the hit
        keep = math.sqrt(min(1.0, left / share)) if share > 1e-9 else 0.0
        rot = quat_to_matrix(np.array([orn]))[0]
        for part, was_hit in zip(parts, hit):
            com = np.average(self.frags.centroids[part], axis=0, weights=self.masses[part])
            r = rot @ (com - body.com)
            v = lin + np.cross(ang, r)
            if was_hit:
                out = r.copy()
                out[2] = 0.0
                out = out / (np.linalg.norm(out) + 1e-9) + self.rng.normal(0, 0.35, 3)
                out[2] = abs(out[2]) * 0.5
                v = v + kick * out / (np.linalg.norm(out) + 1e-9)
                self._add(part, False, (body.com, pos, orn), v, ang)
            else:  # beyond the crushed zone: moves on with the energy the crush left
                v = keep * (v_before + np.cross(spin_before, r))
                self._add(part, False, (body.com, pos, orn), v, keep * spin_before)

    # --- sleeping -------------------------------------------------------------
    def _sleep(self, on_big: set[int]) -> None:
        """on_big: keys of the bodies that touched a big awake body after this frame's step."""
        pb = self.pb
        for key, body in self.bodies.items():
            if body.static or body.frozen or len(body.members) > SLEEP_MEMBERS:
                continue  # big bodies are few; a block just starting to tip must not sleep
            _, _, lin, ang = self._state(body)
            calm = lin @ lin < SLEEP_SPEED**2 and ang @ ang < SLEEP_SPIN**2
            body.still = body.still + 1 if calm else 0
            if body.still >= SLEEP_FRAMES and key not in on_big:
                pos, orn = pb.getBasePositionAndOrientation(body.uid, physicsClientId=self.client)
                body.pose = (pos, orn)
                pb.resetBaseVelocity(body.uid, [0, 0, 0], [0, 0, 0], physicsClientId=self.client)
                pb.changeDynamics(body.uid, -1, mass=0.0, physicsClientId=self.client)
                body.frozen = True

    def _on_big_bodies(self) -> set[int]:
        """Keys of the bodies about to fall asleep that touch a big awake body: one resting on
        a tower that is only starting to tip must not sleep in mid-air, where the tower would
        lean on it. Read straight after the step, before any body changes: Bullet's contact
        manifolds must not be read after a body in them was removed (it crashes)."""
        found = set()
        for key, body in self.bodies.items():
            if body.static or body.frozen or body.still < SLEEP_FRAMES - 1:
                continue
            for c in self.pb.getContactPoints(bodyA=body.uid, physicsClientId=self.client):
                other = self.bodies.get(self.by_uid.get(c[2], -1))
                if other is not None and not (other.static or other.frozen) and len(other.members) > SLEEP_MEMBERS:
                    found.add(key)
                    break
        return found

    def _wake_near(self, gone: _Body) -> None:
        """Sleeping bodies around one that moved away or split wake up."""
        pb = self.pb
        lo, hi = pb.getAABB(gone.uid, physicsClientId=self.client)
        near = pb.getOverlappingObjects([x - 0.3 for x in lo], [x + 0.3 for x in hi], physicsClientId=self.client)
        for uid, _ in near or ():
            key = self.by_uid.get(uid)
            if key is None:
                continue
            body = self.bodies[key]
            if body.frozen:
                body.frozen, body.still = False, 0
                pb.changeDynamics(
                    uid, -1, mass=body.mass, localInertiaDiagonal=body.inertia, physicsClientId=self.client
                )
                body.velocity = np.zeros(3)

    # --- the shot ---------------------------------------------------------------
    def run(self, progress=None) -> Motion:
        try:
            return self._run(progress)
        finally:  # the Bullet client is freed even when the sim fails or is interrupted
            self.pb.disconnect(self.client)
            self.tmp.cleanup()

    def _run(self, progress) -> Motion:
        spec = self.spec
        n, frames = len(self.frags), spec.shot.frames
        rot = np.zeros((frames, n, 4), np.float32)
        rot[..., 3] = 1.0
        trans = np.zeros((frames, n, 3), np.float32)
        visible = np.ones((frames, n), bool)
        trigger_frame = math.ceil(spec.trigger.time * spec.shot.fps)
        for frame in range(frames):
            time = frame / spec.shot.fps
            if frame == trigger_frame:
                self._stand_up()
                self._trigger(time)
                self._settle_structure(time)
            if frame >= trigger_frame:
                for _ in range(spec.sim.substeps):
                    self.pb.stepSimulation(physicsClientId=self.client)
                on_big = self._on_big_bodies()
                if self._impacts(time):
                    self._settle_structure(time)
                self._sleep(on_big)
            self._record(rot[frame], trans[frame])
            if frame >= trigger_frame:
                self._keep_above_ground(rot[frame], trans[frame])
            visible[frame] = ~self.hidden
            if progress:
                progress(frame + 1, frames)
        return Motion(rot, trans, visible, self.events, spec.shot.fps)

    def _keep_above_ground(self, rot: np.ndarray, trans: np.ndarray) -> None:
        """Bodies that a heavy landing pushed more than GROUND_SINK into the ground are lifted
        back onto it, and small ones lose their downward speed (a position projection, as solvers do for
        deep penetration): Bullet resolves a deep contact over several steps, and for a frame
        a piece under a falling stack can show sunk into the ground."""
        x, y, z, w = (rot[:, k].astype(float) for k in range(4))
        row = np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1)
        low = np.einsum("nk,nvk->nv", row, self.padded).min(axis=1) + trans[:, 2]
        sunk = np.flatnonzero((low < -GROUND_SINK) & ~self.hidden & (self.owner >= 0))
        for key in np.unique(self.owner[sunk]):
            body = self.bodies[key]
            if body.static or body.frozen:
                continue
            lift = -float(low[body.members].min())
            pos, orn = self.pb.getBasePositionAndOrientation(body.uid, physicsClientId=self.client)
            pos = (pos[0], pos[1], pos[2] + lift)
            self.pb.resetBasePositionAndOrientation(body.uid, pos, orn, physicsClientId=self.client)
            if len(body.members) <= SLEEP_MEMBERS:  # a big block tipping on its foot keeps turning
                lin, ang = self.pb.getBaseVelocity(body.uid, physicsClientId=self.client)
                lin = (lin[0], lin[1], max(lin[2], 0.0))
                self.pb.resetBaseVelocity(body.uid, lin, ang, physicsClientId=self.client)
            trans[body.members, 2] += lift

    def _stand_up(self) -> None:
        """The intact building enters the solver: every piece a static body."""
        for k in range(len(self.frags)):
            self._add(np.array([k]), True)

    def _side_coordinate(self, points: np.ndarray) -> np.ndarray:
        """Position across the footprint toward trigger.side: -0.5 far side, +0.5 the side itself."""
        w, d = self.building.footprint
        side = self.spec.trigger.side
        axis = {"left": (-points[:, 0] / w), "right": points[:, 0] / w, "front": -points[:, 1] / d}
        axis["back"] = points[:, 1] / d
        return axis.get(side, np.zeros(len(points)))

    def _trigger(self, time: float) -> None:
        """Cut (or blast) the supports of the trigger floors in the region the mode picks."""
        t, f, building = self.spec.trigger, self.frags, self.building
        mode = t.mode if t.side != "all" else "implode"
        reach = self._reach(mode)
        els = building.elements
        hit_el = [
            k
            for k, e in enumerate(els)
            if e.is_support and e.floor in reach and self._side_coordinate(e.center[None])[0] > reach[e.floor]
        ]
        panes = [k for k, e in enumerate(els) if e.material == "glass" and e.floor in reach]
        hit = np.isin(f.element, hit_el + panes)
        if mode == "topple":  # the remaining supports become the hinge the building turns on
            self._free_hinge(hit)
        for k in hit_el + panes:  # glass of the cut storeys goes with them (crews strip it first)
            members = np.flatnonzero(f.element == k)
            centre = tuple(float(x) for x in els[k].center)
            mass = float(self.masses[members].sum())
            if t.kind == "charges" and k in hit_el:
                self._blast(members, t.charge_impulse)
                self.events.append(Event(time, centre, mass, t.charge_impulse, "break"))
                continue
            if k in hit_el:  # stripped glass makes no dust
                self.events.append(Event(time, centre, mass, CUT_SPEED, "break"))
            for m in members:
                self._remove(self.owner[m])
            self.owner[members] = -1
            self.hidden[members] = True
        self.intact &= ~(hit[f.bonds[:, 0]] | hit[f.bonds[:, 1]])
        if mode == "partial":  # the failing side tears away from the rest along a line
            self._tear(min(t.floors))

    def _reach(self, mode: str) -> dict[int, float]:
        """Per storey hit, the side coordinate beyond which its supports go. Topple cuts a wedge:
        on the falling side the storeys above the lowest one hit go too, a shorter way in each,
        so the building turns about the supports left on the far side before its base lands."""
        floors = self.spec.trigger.floors
        if mode == "implode":
            return dict.fromkeys(floors, -1.0)
        if mode == "partial":
            return dict.fromkeys(floors, PARTIAL_REACH)
        top = 1 + max(e.floor for e in self.building.elements)
        out: dict[int, float] = {}
        for f0 in floors:
            for k in range(WEDGE_STOREYS):
                if f0 + k < top:
                    out[f0 + k] = min(out.get(f0 + k, 1.0), -0.2 + WEDGE_STEP * k)
        return out

    def _tear(self, floor: int) -> None:
        """Partial: the failing side (beyond PARTIAL_REACH, from the lowest storey hit up) is tied
        to the rest by bonds left with TEAR_SHARE of their strength and no reserve, and the rest
        is as strong as it needs to stand alone. The load-flow model passes loads on by shear
        alone: it would let the slabs cantilever a whole side, where real ones fail in bending."""
        f, b = self.frags, self.building
        storey = b.height / (1 + max(e.floor for e in b.elements))
        where = self._side_coordinate(f.centroids)
        fails = (where > PARTIAL_REACH) & (f.centroids[:, 2] >= floor * storey)
        rest = self._flows(~fails & ~self.hidden)
        self.capacity = np.maximum(self.capacity, SAFETY * self.spec.sim.glue_scale * rest)
        i, j = f.bonds[:, 0], f.bonds[:, 1]
        # the failing side keeps no reserve, and the bonds across the line little strength
        strength = self.spec.sim.glue_scale * self._strength()
        side = fails[i] | fails[j]
        self.capacity[side] = strength[side]
        across = fails[i] != fails[j]
        self.capacity[across] = TEAR_SHARE * strength[across]
        # the torn faces are Voronoi faces that would wedge the side against the rest: the
        # side's pieces pass the rest's pieces that touch them (they shear through them)
        self.falls = fails
        near = cKDTree(f.centroids[fails]).query_ball_point(f.centroids, 2 * self.radius.max() + 0.05)
        failing = np.flatnonzero(fails)
        self.seam = [k for k in np.flatnonzero(~fails & ~self.hidden) if self._touches(k, failing[near[k]])]

    def _touches(self, k: int, others: np.ndarray) -> bool:
        """Whether piece k's box comes within 5 cm of any of the others' boxes."""
        v = self.frags.vertices
        lo, hi = v[k].min(axis=0) - 0.05, v[k].max(axis=0) + 0.05
        return any(np.all((v[o].min(axis=0) <= hi) & (v[o].max(axis=0) >= lo)) for o in others)

    def _free_hinge(self, cut: np.ndarray) -> None:
        """Topple: the supports left standing on the lowest trigger floor let go of everything
        but each other, so the building rests on them as on a hinge and turns about them. The
        higher cuts only weaken it (their remaining supports stay glued): freed there too, the
        block above would sit on a second hinge and drop into the middle instead of falling over."""
        f, els, floors = self.frags, self.building.elements, [min(self.spec.trigger.floors)]
        support = np.array([els[e].is_support and els[e].floor in floors for e in f.element]) & ~cut
        self.intact &= support[f.bonds[:, 0]] == support[f.bonds[:, 1]]
        # a soft contact (error reduction HINGE_ERP): at Bullet's stiffer default, the solver
        # pushes the building's corner back out of the hinge every step and pins a tall block
        # that should turn; this one lets a 15-storey tower tip as a rigid body on a pivot would
        for k in np.flatnonzero(support):
            self._soften(self.bodies[self.owner[k]].uid)

    def _soften(self, uid: int) -> None:
        """Contacts with this body correct HINGE_ERP of their overlap a step (see _free_hinge)."""
        damping = (1.0 / HINGE_ERP - 1.0) * HINGE_STIFFNESS * self.dt
        self.pb.changeDynamics(
            uid, -1, contactStiffness=HINGE_STIFFNESS, contactDamping=damping, physicsClientId=self.client
        )

    def _blast(self, members: np.ndarray, speed: float) -> None:
        for m in members:
            self._remove(self.owner[m])
            out = self.frags.centroids[m].copy()
            out[2] = 0.0
            out = out / (np.linalg.norm(out) + 1e-9) + self.rng.normal(0, 0.3, 3)
            out[2] = abs(out[2]) * 0.5 + 0.2
            v = speed * self.rng.uniform(0.5, 1.0) * out / np.linalg.norm(out)
            self._add(np.array([m]), False, velocity=v)

    def _settle_structure(self, time: float) -> None:
        """Break overloaded bonds of the standing structure until what stands can carry itself;
        groups that lost the ground become falling compound bodies."""
        f = self.frags
        for _ in range(SETTLE_ROUNDS):
            static = np.zeros(len(f), bool)
            for body in self.bodies.values():
                if body.static:
                    static[body.members] = True
            graph, keep = self._graph(static)
            count, labels = connected_components(graph, directed=False)
            grounded = np.zeros(count, bool)
            grounded[np.unique(labels[static & self.footing])] = True
            degree = np.bincount(f.bonds[keep].ravel(), minlength=len(f))
            loose = static & (~grounded[labels] | (degree == 0))
            for label in np.unique(labels[loose]):
                members = np.flatnonzero(loose & (labels == label))
                for m in members:
                    self._remove(self.owner[m])
                self._add(members, False)
            static &= ~loose
            ratio = self._flows(static) / self.capacity
            worst = ratio[keep].max(initial=0.0)
            if worst <= 1.0:
                return
            # the worst overloaded bonds go first, then the loads find new paths: a side that
            # tears away stops loading the rest, which may then carry itself
            over = keep & (ratio > max(1.0, BREAK_FRONT * worst))
            self.intact &= ~over
            where = f.centroids[f.bonds[over]].mean(axis=(0, 1))
            mass = 0.1 * float(self.masses[np.unique(f.bonds[over])].sum())
            self.events.append(Event(time, tuple(map(float, where)), mass, 1.0, "crack"))

    def _impacts(self, time: float) -> bool:
        """Hits of this frame: dust events, fracture on impact, crush-up. True if the standing
        structure lost bonds. Every contact is read before any body changes: Bullet's contact
        manifolds must not be read after a body in them was removed."""
        hits, strained = [], []
        for key in sorted(self.bodies):
            hit = self._hit(key, time)
            if hit is not None:
                hits.append(hit)
            else:
                strain = self._strain(key)
                if strain is not None:
                    strained.append(strain)
        structure_hit = False
        for key, points, static_hit, lost, before in hits:
            budget = FRACTURE_SHARE * lost
            if static_hit:
                structure_hit |= self._crush_static(points, CRUSH_UP * budget) > 0
                budget *= 1 - CRUSH_UP
            if len(self.bodies[key].members) > 1:
                self._crush_body(key, points, budget, lost, before)
        for key, anchors, loads in strained:
            self._break_strained(key, anchors, loads, time)
        return structure_hit

    def _strain(self, key: int):
        """(key, anchor pieces, loads) of a compound body that bears on the ground, or None.
        Each piece's load is its mass times its acceleration less gravity over the last frame
        (zero in free fall, its weight at rest, many times it in a hard landing); the loads
        flow through the bonds to the pieces that touch the ground."""
        body = self.bodies[key]
        if body.static or body.frozen or body.dv is None or len(body.members) < 2:
            return None
        f = self.frags
        mask = np.zeros(len(f), bool)
        mask[body.members] = True
        inside = self.intact & mask[f.bonds[:, 0]] & mask[f.bonds[:, 1]]
        if not inside.any():
            return None
        pos, _, _, ang = self._state(body)
        world = self._world_centroids(body)
        r = world - pos
        acc = (body.dv[0] + np.cross(body.dv[1], r)) * self.spec.shot.fps + np.cross(ang, np.cross(ang, r))
        loads = self.masses[body.members] * np.linalg.norm(acc - [0.0, 0.0, -GRAVITY], axis=1)
        if loads.sum() <= self.capacity[inside].min():  # no bond can carry more than the whole load
            return None
        contacts = self.pb.getContactPoints(bodyA=body.uid, physicsClientId=self.client)
        points = [c[5] for c in contacts if c[2] == self.ground]
        if not points:
            return None
        nearest = np.linalg.norm(world[:, None, :] - np.array(points)[None], axis=2).argmin(axis=0)
        anchors = np.zeros(len(f), bool)
        anchors[body.members[nearest]] = True
        full = np.zeros(len(f))
        full[body.members] = loads
        return key, anchors, full

    def _break_strained(self, key: int, anchors: np.ndarray, loads: np.ndarray, time: float) -> None:
        """Break the body's bonds that carry more than their capacity; the parts move on rigidly."""
        if key not in self.bodies:
            return
        f, body = self.frags, self.bodies[key]
        mask = np.zeros(len(f), bool)
        mask[body.members] = True
        flow = self._flows(mask, anchors, loads)
        over = self.intact & mask[f.bonds[:, 0]] & mask[f.bonds[:, 1]] & (flow > self.capacity)
        if not over.any():
            return
        self.intact &= ~over
        where = f.centroids[f.bonds[over]].mean(axis=(0, 1))
        self.events.append(Event(time, tuple(map(float, where)), 0.1 * body.mass, 1.0, "crack"))
        self._split_rigid(key)

    def _split_rigid(self, key: int) -> None:
        """Replace a body by its glued components, each moving as that part of the body moved."""
        body = self.bodies[key]
        mask = np.zeros(len(self.frags), bool)
        mask[body.members] = True
        _, labels = connected_components(self._graph(mask)[0], directed=False)
        parts = [body.members[labels[body.members] == lab] for lab in np.unique(labels[body.members])]
        if len(parts) == 1:
            return
        pos, orn, lin, ang = self._state(body)
        self._remove(key)
        rot = quat_to_matrix(np.array([orn]))[0]
        for part in sorted(parts, key=lambda p: int(p.min())):
            com = np.average(self.frags.centroids[part], axis=0, weights=self.masses[part])
            v = lin + np.cross(ang, rot @ (com - body.com))
            self._add(part, False, (body.com, pos, orn), v, ang)

    def _hit(self, key: int, time: float):
        """(key, contact points, hit standing structure?, energy lost, motion before) of a body
        that was hit hard this frame, or None; logs the impact event and clamps runaway speed."""
        pb, body = self.pb, self.bodies[key]
        if body.static or body.frozen:
            return None
        pos, orn, lin, ang = self._state(body)
        before = (body.velocity, body.spin, body.energy)
        dv = float(np.linalg.norm(lin - body.velocity))
        body.dv = (lin - body.velocity, ang - body.spin)
        body.velocity, body.spin = lin, ang
        body.energy = self._kinetic(body, orn, lin, ang)
        speed = float(np.linalg.norm(lin))
        if speed > self.spec.sim.max_speed:
            lin = lin * self.spec.sim.max_speed / speed
            pb.resetBaseVelocity(body.uid, lin.tolist(), ang.tolist(), physicsClientId=self.client)
            body.velocity = lin
        lost = max(0.0, before[2] - body.energy)  # a falling body turning on the ground loses spin
        if dv < IMPACT_DV and lost < 0.5 * body.mass * IMPACT_DV**2:
            return None
        if body.mass * dv > EVENT_MOMENTUM and (len(body.members) > 1 or dv > 2 * IMPACT_DV):
            self.events.append(Event(time, tuple(map(float, pos)), body.mass, dv, "impact"))
        if lost <= 0 or body.mass < CRUSH_MASS:
            return None
        contacts = pb.getContactPoints(bodyA=body.uid, physicsClientId=self.client)
        if not contacts:
            return None
        points = np.array([c[5] for c in contacts])
        static_hit = any(u in self.by_uid and self.bodies[self.by_uid[u]].static for u in {c[2] for c in contacts})
        return key, points, static_hit, lost, before

    def _kinetic(self, body: _Body, orn, lin: np.ndarray, ang: np.ndarray) -> float:
        spin = quat_to_matrix(np.array([orn]))[0].T @ ang  # in the body's frame
        return 0.5 * body.mass * float(lin @ lin) + 0.5 * float(np.dot(body.inertia, spin**2))

    def _crush_order(self, bonds: np.ndarray, where: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Bonds nearest the hit first; weak bonds (joints) before strong ones at the same distance."""
        dist = np.linalg.norm(where[:, None, :] - points[None], axis=2).min(axis=1)
        cap = self.capacity[bonds]
        f = self.frags
        inner = f.cluster[f.bonds[bonds, 0]] == f.cluster[f.bonds[bonds, 1]]
        # clusters part first; their own pieces only close to the hit
        return bonds[np.argsort(dist * np.sqrt(cap / np.median(cap)) * np.where(inner, 3.0, 1.0), kind="stable")]

    def _break_budget(self, order: np.ndarray, budget: float) -> tuple[np.ndarray, float]:
        cost = np.cumsum(self.capacity[order] * CRUSH_DEPTH)
        count = int(np.searchsorted(cost, budget, side="right"))
        return order[:count], float(cost[count - 1]) if count else 0.0

    def _crush_body(self, key: int, points: np.ndarray, budget: float, lost: float, before: tuple) -> None:
        f, body = self.frags, self.bodies[key]
        mask = np.zeros(len(f), bool)
        mask[body.members] = True
        inside = np.flatnonzero(self.intact & mask[f.bonds[:, 0]] & mask[f.bonds[:, 1]])
        if not len(inside):
            return
        world = np.zeros((len(f), 3))
        world[body.members] = self._world_centroids(body)
        where = world[f.bonds[inside]].mean(axis=1)
        broken, spent = self._break_budget(self._crush_order(inside, where, points), budget)
        if not len(broken):
            return
        self.intact[broken] = False
        crushed = np.zeros(len(f), bool)
        crushed[f.bonds[broken].ravel()] = True
        self._split(key, crushed, lost, spent, before)

    def _crush_static(self, points: np.ndarray, budget: float) -> int:
        f = self.frags
        static = np.zeros(len(f), bool)
        for body in self.bodies.values():
            if body.static:
                static[body.members] = True
        inside = np.flatnonzero(self.intact & static[f.bonds[:, 0]] & static[f.bonds[:, 1]])
        if not len(inside):
            return 0
        where = f.centroids[f.bonds[inside]].mean(axis=1)
        near = np.linalg.norm(where[:, None, :] - points[None], axis=2).min(axis=1) < 3.0
        if not near.any():
            return 0
        broken, _ = self._break_budget(self._crush_order(inside[near], where[near], points), budget)
        self.intact[broken] = False
        return len(broken)

    def _record(self, rot_out: np.ndarray, trans_out: np.ndarray) -> None:
        pb, bodies = self.pb, list(self.bodies.values())
        if not bodies:
            return
        poses = [
            body.pose
            if body.static or body.frozen
            else pb.getBasePositionAndOrientation(body.uid, physicsClientId=self.client)
            for body in bodies
        ]
        pos = np.array([p for p, _ in poses])
        orn = np.array([q for _, q in poses])
        com = np.array([body.com for body in bodies])
        trans = pos - np.einsum("nij,nj->ni", quat_to_matrix(orn), com)
        for body, q, t in zip(bodies, orn, trans):
            rot_out[body.members] = q
            trans_out[body.members] = t
