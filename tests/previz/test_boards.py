"""Storyboards from 3D blocking, and the contact sheet."""

import dataclasses
import re

import numpy as np
import pytest
from PIL import Image

from setpiece.previz import break_down, generate_shots, parse_file, placeholder_board, run_previz, write_contact_sheet
from setpiece.previz.boards import StoryboardRenderer, block_scene, mannequin, shot_pose

W, H = 160, 90


@pytest.fixture(scope="module")
def story(request):
    """The example script's scenes and shots, and one renderer for all of them."""
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "collapse.fountain"
    scenes = break_down(parse_file(script))
    shots = generate_shots(scenes)
    renderer = StoryboardRenderer(scenes, shots)
    request.addfinalizer(renderer.close)
    return {"scenes": {s.number: s for s in scenes}, "shots": {s.number: s for s in shots}, "renderer": renderer}


def board(story, shot, w=W, h=H, scene=None):
    return story["renderer"].board(shot, scene or story["scenes"][shot.scene], w, h)


def luma(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), float)


def test_mannequins_stand_where_the_characters_are_projected(story):
    master = story["shots"]["1B"]
    b = board(story, master)
    assert set(b.blocking.actors) == {"JONAH", "MAYA"}
    for name, actor in b.blocking.actors.items():
        assert b.blocking.labels[actor.part] == f"character:{name}"
        for fraction in (0.3, 0.7, 0.93):  # legs, chest, head
            x, y, depth = b.camera.project(actor.at(fraction)[None])[0]
            assert 0 <= x < W and 0 <= y < H and depth > 0
            window = b.passes.part[int(y) - 1 : int(y) + 2, int(x) - 1 : int(x) + 2]
            assert (window == actor.part).any(), (name, fraction)
        assert b.coverage(f"character:{name}") > 0.005


def test_each_character_keeps_one_colour(story):
    scenes = story["scenes"]
    colour = {}
    for number in ("1", "3"):
        blk = block_scene(scenes[number])
        for name, actor in blk.actors.items():
            faces = np.asarray(blk.parts[actor.part].color)
            assert (np.abs(faces - actor.color).max(axis=1) < 1e-9).mean() > 0.3  # the costume
            assert colour.setdefault(name, actor.color) == actor.color
    assert colour["JONAH"] != colour["MAYA"]


def test_close_up_is_tighter_than_wide_shot(story):
    shot = story["shots"]["2E"]  # Leo, single
    cover = {
        size: board(story, dataclasses.replace(shot, size=size)).coverage("character:LEO")
        for size in ("WS", "MS", "CU")
    }
    assert cover["WS"] < cover["MS"] < cover["CU"]
    assert cover["CU"] > 0.2 and cover["WS"] < 0.1


def test_ots_looks_over_one_shoulder_onto_the_other(story):
    shot = story["shots"]["1E"]  # OTS Maya onto Jonah
    b = board(story, shot)
    jonah, maya = b.blocking.actors["JONAH"], b.blocking.actors["MAYA"]
    eye = np.asarray(b.camera.position)
    assert np.linalg.norm(eye - maya.position) < np.linalg.norm(eye - jonah.position)
    x, y, _ = b.camera.project(jonah.at(0.93)[None])[0]  # the subject's face is in frame
    assert 0 <= x < W and 0 <= y < H
    assert b.passes.part[int(y), int(x)] == jonah.part
    assert b.coverage("character:MAYA") > 0.02  # and her shoulder


def test_insert_is_close_on_its_prop(story):
    b = board(story, story["shots"]["2D"])  # the radio
    assert b.coverage("prop:radio") > 0.03
    assert b.coverage("character") == 0.0


def test_collapse_shot_shows_the_building_falling(story):
    shots, scenes = story["shots"], story["scenes"]
    collapse = board(story, shots["3F"])
    assert collapse.coverage("building") > 0.05
    assert collapse.coverage("fx:") > 0.02  # dust and debris
    blk = collapse.blocking
    falling = shot_pose(shots["3F"], blk)
    intact = shot_pose(shots["3B"], blk)
    top = blk.hero.floors[-1]
    centre = np.r_[blk.parts[top].vertices.mean(axis=0), 1.0]
    moved = falling[top] @ centre - intact[top] @ centre
    assert moved[0] < -2.0 and moved[2] < 0  # the top storey leans left ("leans left") and drops
    # the scene after the collapse shows the rubble, not the standing tower
    ruins = board(story, shots["4B"])
    rubble = ruins.blocking.hero.rubble
    assert (ruins.passes.part == rubble).any()
    assert not np.isin(ruins.passes.part, ruins.blocking.hero.floors).any()
    assert scenes["3"].vfx  # sanity: the beat drives it


def test_vfx_proxies_only_in_their_own_shot(story):
    shots = story["shots"]
    assert board(story, shots["3F"]).coverage("fx:") > 0
    assert board(story, shots["3B"]).coverage("fx:") == 0


def test_night_is_darker_and_bluer_than_day(story):
    shot, scene = story["shots"]["1B"], story["scenes"]["1"]
    renderer = StoryboardRenderer()
    try:
        day = renderer(shot, dataclasses.replace(scene, lighting="day"), W, H)
        night = renderer(shot, dataclasses.replace(scene, number="1n", lighting="night"), W, H)
    finally:
        renderer.close()
    assert luma(night).mean() < 0.65 * luma(day).mean()
    assert luma(night).mean() > 25  # dark, still readable
    r, g, b = np.asarray(night, float).reshape(-1, 3).mean(axis=0)
    assert b > r


def test_boards_are_readable_and_deterministic(story):
    for number, shot in story["shots"].items():
        image = board(story, shot).image
        assert image.size == (W, H)
        values = luma(image)
        assert 45 < values.mean() < 215, number  # neither black nor blown out
        assert values.std() > 12, number  # something is drawn
    again = StoryboardRenderer(list(story["scenes"].values()), list(story["shots"].values()))
    try:
        shot = story["shots"]["3F"]
        first = np.asarray(board(story, shot).image)
        second = np.asarray(again(shot, story["scenes"]["3"], W, H))
    finally:
        again.close()
    assert np.array_equal(first, second)


def test_dutch_angle_turns_the_frame(story):
    shot = story["shots"]["1B"]
    level = board(story, shot)
    dutch = board(story, dataclasses.replace(shot, angle="dutch"))
    assert dutch.roll != 0 and level.roll == 0
    assert dutch.image.size == (W, H)
    # the ground line is no longer level: sky pixels in one top corner, not the other
    sky = dutch.passes.part == -1
    assert sky.any() and not np.array_equal(sky[:, : W // 2], sky[:, W // 2 :][:, ::-1])


def test_one_gl_context_for_all_scenes(story, monkeypatch):
    import setpiece.render.raster as preview

    made = []
    real = preview.PreviewRenderer

    def counting(*args, **kwargs):
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(preview, "PreviewRenderer", counting)
    scenes, shots = list(story["scenes"].values()), list(story["shots"].values())
    with StoryboardRenderer(scenes, shots) as renderer:
        for shot in shots[::3]:
            renderer(shot, story["scenes"][shot.scene], 32, 18)
    assert len(made) == 1


def test_edited_shot_adds_a_character(story):
    shot = dataclasses.replace(story["shots"]["2E"], characters=["LEO", "NEWCOMER"], subject="NEWCOMER")
    with StoryboardRenderer() as renderer:
        b = renderer.board(shot, story["scenes"]["2"], W, H)
    assert "NEWCOMER" in b.blocking.actors
    assert b.coverage("character:NEWCOMER") > 0.05


def test_mannequin_faces_plus_x():
    m = mannequin((0.3, 0.2, 0.1), 1.8)
    assert m.vertices[:, 2].max() == pytest.approx(1.8, abs=0.03)
    nose = m.vertices[m.vertices[:, 2] > 1.55]
    assert nose[:, 0].max() > -nose[:, 0].min()  # the face (nose, eyes) is on the +X side


def test_contact_sheet_lists_and_links_every_board(tmp_path, story):
    shots = list(story["shots"].values())[:11]
    folder = tmp_path / "take"
    (folder / "boards").mkdir(parents=True)
    boards = []
    for k, shot in enumerate(shots):
        path = folder / "boards" / f"{k:03d}_{shot.number}.png"
        placeholder_board(shot, (64, 36)).save(path)
        boards.append(path)
    files = write_contact_sheet(folder, boards, shots, list(story["scenes"].values()), title="**THE LAST SHIFT**")
    page = files["contact_sheet.html"].read_text()
    assert "<h1>THE LAST SHIFT</h1>" in page
    for shot, path in zip(shots, boards):
        assert f'<span class="num">{shot.number}</span>' in page
        assert f'src="boards/{path.name}"' in page
    assert "&quot;Charges are set" in page  # action text, escaped
    assert "EXT. HALVORSEN TOWER - DAWN" in page
    links = re.findall(r'src="([^"]+)"', page)
    assert len(links) == len(shots) and all((folder / link).is_file() for link in links)
    pdf = files["contact_sheet.pdf"].read_bytes()
    assert pdf.startswith(b"%PDF") and b"/Count 2" in pdf  # 11 boards, 9 a page


def test_run_previz_draws_3d_boards_and_a_contact_sheet(tmp_path, example):
    result = run_previz(example, tmp_path / "p", board_size=(W, H), fps=4)
    take = result.take_dir
    assert result.contact_sheet == take / "contact_sheet.html"
    assert (take / "contact_sheet.pdf").is_file()
    page = result.contact_sheet.read_text()
    for shot, path in zip(result.shots, result.boards):
        assert f'src="boards/{path.name}"' in page
        drawn = np.asarray(Image.open(path).convert("RGB"), float)
        sketch = np.asarray(placeholder_board(shot, (W, H)), float)
        assert np.abs(drawn - sketch).mean() > 20, shot.number  # not the placeholder
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["v001"]
