import networkx as nx
import numpy as np
import pytest

from setpiece.errors import SpecError
from setpiece.physics.fracture import fracture
from setpiece.world.building import build_scene
from tests.conftest import small_spec


@pytest.fixture(scope="module")
def scene():
    return build_scene(small_spec())


@pytest.fixture(scope="module")
def frags(scene):
    return fracture(scene.building, 120, 6, np.random.default_rng(1))


def test_building_has_floors_slabs_and_windows(scene):
    kinds = {e.kind for e in scene.building.elements}
    assert {"slab", "pier", "band"} <= kinds  # interior columns need 2+ bays each way
    slabs = [e for e in scene.building.elements if e.kind == "slab"]
    assert len(slabs) == 3
    assert scene.building.height == pytest.approx(3 * 3.2)


def test_elements_do_not_overlap(scene):
    els = scene.building.elements
    for i, a in enumerate(els):
        for b in els[i + 1 :]:
            overlap = np.minimum(a.hi, b.hi) - np.maximum(a.lo, b.lo)
            assert not np.all(overlap > 1e-6), (a, b)


def test_fragment_count_and_volume_conserved(scene, frags):
    assert len(frags) == 120
    assert frags.volumes.sum() == pytest.approx(scene.building.volume, rel=1e-9)
    assert np.all(frags.volumes > 0)


def test_fragments_are_convex_and_inside_their_element(scene, frags):
    for i in range(len(frags)):
        e = scene.building.elements[frags.element[i]]
        v = frags.vertices[i]
        assert np.all(v >= np.asarray(e.lo) - 1e-6) and np.all(v <= np.asarray(e.hi) + 1e-6)


def test_connectivity_graph_links_the_whole_building(frags):
    # every fragment touches another, and glued faces have positive area
    touched = np.zeros(len(frags), bool)
    touched[frags.bonds.ravel()] = True
    assert touched.all()
    assert np.all(frags.bond_area > 0)


def test_clusters_are_connected_groups(frags):
    sizes = np.bincount(frags.cluster)
    assert sizes.max() <= 6 and frags.n_clusters < len(frags)
    graph = nx.Graph()
    graph.add_nodes_from(range(len(frags)))
    graph.add_edges_from(map(tuple, frags.bonds[frags.cluster[frags.bonds[:, 0]] == frags.cluster[frags.bonds[:, 1]]]))
    for c in range(frags.n_clusters):
        members = np.flatnonzero(frags.cluster == c).tolist()
        if len(members) > 1:  # a cluster's fragments reach each other through bonds inside it
            assert nx.is_connected(graph.subgraph(members)), f"cluster {c} is in pieces"


def test_same_seed_same_fracture(scene, frags):
    again = fracture(scene.building, 120, 6, np.random.default_rng(1))
    other = fracture(scene.building, 120, 6, np.random.default_rng(2))
    assert np.array_equal(again.centroids, frags.centroids)
    assert not np.allclose(other.centroids, frags.centroids)


def test_too_few_fragments_is_a_clear_error(scene):
    with pytest.raises(SpecError, match="fracture.fragments"):
        fracture(scene.building, 10, 6, np.random.default_rng(1))


def test_fragment_faces_are_closed_and_outward(frags):
    for i in range(len(frags)):
        v, f = frags.vertices[i], frags.faces[i]
        tri = v[f]
        # closed and outward: the faces enclose the fragment's volume with a positive sign
        enclosed = np.einsum("fk,fk->f", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6
        assert enclosed == pytest.approx(frags.volumes[i], rel=1e-6)


def _surface_samples(v, f, per_m2):
    """Points spread evenly over a fragment's surface (centres of each triangle cut
    into m x m similar triangles), with the area each stands for."""
    points, weights = [], []
    for a, b, c in v[f]:
        area = np.linalg.norm(np.cross(b - a, c - a)) / 2
        m = max(1, int(np.ceil(np.sqrt(area * per_m2))))
        i, j = np.mgrid[0:m, 0:m]
        up, down = (i + j) <= m - 1, (i + j) <= m - 2  # the m*m sub-triangles, both orientations
        bary = [np.c_[i[up] + 1 / 3, j[up] + 1 / 3], np.c_[i[down] + 2 / 3, j[down] + 2 / 3]]
        uv = np.vstack(bary) / m
        points.append(a + uv[:, :1] * (b - a) + uv[:, 1:] * (c - a))
        weights.append(np.full(len(uv), area / m**2))
    return np.vstack(points), np.concatenate(weights)


def test_bonds_join_exactly_the_cells_that_share_a_face(frags):
    """Checked independently of the fracture's polygon clipping: sample each cell's
    surface and see how much of it lies on a neighbour's boundary."""
    from scipy.spatial import ConvexHull

    planes = [ConvexHull(v).equations for v in frags.vertices]
    lo = np.array([v.min(axis=0) for v in frags.vertices])
    hi = np.array([v.max(axis=0) for v in frags.vertices])
    bonded = {tuple(sorted(p)): a for p, a in zip(frags.bonds.tolist(), frags.bond_area)}
    for i in range(len(frags)):
        points, weight = _surface_samples(frags.vertices[i], frags.faces[i], 1000)
        near = np.flatnonzero(np.all(lo <= hi[i] + 1e-6, axis=1) & np.all(hi >= lo[i] - 1e-6, axis=1))
        for j in near[near > i]:
            box = np.all((points >= lo[j] - 1e-6) & (points <= hi[j] + 1e-6), axis=1)
            on_j = (points[box] @ planes[j][:, :3].T + planes[j][:, 3]).max(axis=1) <= 1e-7
            shared = weight[box][on_j].sum()
            if (i, j) in bonded:
                assert shared == pytest.approx(bonded[(i, j)], rel=0.25, abs=0.02), (i, j)
            else:
                assert shared < 0.02, f"cells {i} and {j} share {shared:.3f} m2 but have no bond"


def test_members_include_beams_and_glass_panes(scene):
    kinds = {e.kind for e in scene.building.elements}
    assert {"beam", "glass"} <= kinds
    panes = [e for e in scene.building.elements if e.kind == "glass"]
    assert all(e.material == "glass" and min(np.subtract(e.hi, e.lo)) < 0.05 for e in panes)


def test_brick_walls_break_into_running_bond_blocks():
    building = build_scene(small_spec(building={"material": "brick"})).building
    frags = fracture(building, 600, 6, np.random.default_rng(1))
    walls = [k for k, e in enumerate(building.elements) if e.material == "brick"]
    for k in walls[:6]:
        pieces = np.flatnonzero(frags.element == k)
        # every block is a box: 8 corners, volume equal to its bounding box
        for i in pieces:
            v = frags.vertices[i]
            assert len(v) == 8
            assert frags.volumes[i] == pytest.approx(np.prod(np.ptp(v, axis=0)), rel=1e-6)
    assert frags.volumes.sum() == pytest.approx(building.volume, rel=1e-9)


def test_pieces_are_finer_near_the_focus(scene):
    focus = np.array([[-3.0, 0.0, 1.5]])
    frags = fracture(scene.building, 400, 6, np.random.default_rng(1), focus)
    near = np.linalg.norm(frags.centroids - focus, axis=1) < 3.0
    far = np.linalg.norm(frags.centroids - focus, axis=1) > 6.0
    concrete = np.array([scene.building.elements[e].material == "concrete" for e in frags.element])
    assert np.median(frags.volumes[near & concrete]) < 0.7 * np.median(frags.volumes[far & concrete])


def test_members_meet_at_joints(scene, frags):
    joint = frags.element[frags.bonds[:, 0]] != frags.element[frags.bonds[:, 1]]
    assert joint.any() and (~joint).any()
