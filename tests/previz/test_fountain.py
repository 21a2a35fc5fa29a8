"""Fountain 1.1 parser: every syntax element, line numbers, warnings, bad files."""

import random
from pathlib import Path

import pytest

from setpiece.errors import ScreenplayError
from setpiece.previz import fountain as ft
from setpiece.previz.fountain import parse, parse_file


def pairs(play):
    return [(e.kind, e.text) for e in play.elements]


def only(play, cls):
    return [e for e in play.elements if isinstance(e, cls)]


# --------------------------------------------------------------------------- title page


def test_title_page_keys_indented_values_and_emphasis(load):
    play = load("title_page")
    assert play.title_page == {
        "Title": "NIGHT SHIFT\na demolition story",
        "Credit": "Written by",
        "Author": "Ana Ortiz",
        "Source": "Based on an idea by the crew",
        "Draft date": "1/2/2026",
        "Contact": "Ana Ortiz\nana@example.com",
    }
    assert play.title == "NIGHT SHIFT\na demolition story"
    assert pairs(play) == [("scene_heading", "EXT. QUARRY - DAY"), ("action", "Wind.")]
    assert play.elements[0].line == 12


def test_fade_in_is_not_a_title_page():
    play = parse("FADE IN:\n\nINT. HOUSE - DAY\n\nQuiet.\n")
    assert play.title_page == {}
    assert pairs(play)[0] == ("action", "FADE IN:")


# --------------------------------------------------------------------------- scene headings


def test_scene_heading_prefixes_numbers_and_forcing(load):
    play = load("scene_headings")
    headings = only(play, ft.SceneHeading)
    assert [h.text for h in headings] == [
        "INT. KITCHEN - NIGHT",
        "EXT. ROOFTOP - DAWN",
        "est. harbour - dusk",
        "INT./EXT. TAXI - MOVING - DAY",
        "I/E VAN - NIGHT",
        "INT. VAULT - NIGHT",
        "EXT. ALLEY - DAY",
        "INT. HALL - DAY",
        "DRONE POV",
    ]
    assert [h.number for h in headings][5:8] == ["7", "12A", "I-1-A"]
    assert headings[-1].forced and not headings[0].forced
    assert [h.line for h in headings][:3] == [1, 5, 9]
    # an ellipsis is not a forced heading; caps without INT/EXT are no heading
    assert ("action", "..and then nothing happens.") in pairs(play)
    assert ("character", "INTERESTING IDEAS") in pairs(play)


def test_scene_heading_needs_a_blank_line_before():
    play = parse("Bob walks in.\nINT. HOUSE - DAY\n")
    assert pairs(play) == [("action", "Bob walks in.\nINT. HOUSE - DAY")]


def test_scenes_group_elements_and_number_them():
    play = parse("INT. A - DAY\n\nOne.\n\nEXT. B - NIGHT #9#\n\nTwo.\n")
    scenes = play.scenes()
    assert [(s.number, s.line, [e.text for e in s.elements]) for s in scenes] == [
        ("1", 1, ["One."]),
        ("9", 5, ["Two."]),
    ]


# --------------------------------------------------------------------------- action


def test_action_keeps_line_breaks_indentation_and_forcing(load):
    play = load("action")
    actions = only(play, ft.Action)
    assert [a.text for a in actions] == [
        "They cross the yard.\nThe gate creaks.",
        "    A tab-indented line.\n    Four spaces kept.",
        "SILENCE FALLS.",
        "BOOM\nDust everywhere.",
        "She reads the sign:\nINT. ERIOR DESIGN",
    ]
    assert actions[0].lines == (3, 4)
    assert [a.forced for a in actions] == [False, False, True, True, False]
    assert not only(play, ft.Character)


# --------------------------------------------------------------------------- dialogue


def test_characters_extensions_forced_and_parentheticals(load):
    play = load("dialogue")
    cues = only(play, ft.Character)
    assert [(c.name, c.extensions) for c in cues] == [
        ("RAFA", ()),
        ("RAFA", ("CONT'D",)),
        ("DISPATCH", ("V.O.",)),
        ("KIM", ("O.S.",)),
        ("HANS", ("on the radio",)),
        ("McCLANE", ()),
        ("R2D2", ()),
        ("RAFA", ()),
        ("KIM", ()),
        ("RAFA", ()),
        ("NINA", ()),
    ]
    assert cues[5].forced and cues[5].text == "McCLANE"
    assert pairs(play)[3:8] == [
        ("character", "RAFA (CONT'D)"),
        ("parenthetical", "(quietly)"),
        ("dialogue", "All of them."),
        ("parenthetical", "(beat)"),
        ("dialogue", "Every floor."),
    ]


def test_two_spaces_keep_a_blank_line_inside_dialogue(load):
    speech = [d for d in only(load("dialogue"), ft.Dialogue) if d.line == 28][0]
    assert speech.text == "First line.\n\nAfter a two-space line."
    assert speech.lines == (28, 29, 30)


def test_dual_dialogue_marks_both_cues(load):
    cues = only(load("dialogue"), ft.Character)
    assert [(c.name, c.dual) for c in cues[-3:]] == [("KIM", True), ("RAFA", True), ("NINA", False)]
    assert not any(c.dual for c in cues[:-3])


def test_lyrics(load):
    play = load("dialogue")
    assert [(e.text, e.line) for e in only(play, ft.Lyric)] == [("Down by the river", 39), ("the old mill stands", 40)]
    assert parse("~Sing it loud\n").elements[0].kind == "lyric"


def test_caps_line_followed_by_blank_is_action_not_character():
    play = parse("INT. A - DAY\n\nTHE LIGHTS FAIL.\n\nBob waits.\n")
    assert pairs(play)[1] == ("action", "THE LIGHTS FAIL.")


# --------------------------------------------------------------------------- transitions, centered


def test_transitions_and_centered(load):
    play = load("transitions_centered")
    assert [(t.text, t.forced) for t in only(play, ft.Transition)] == [("CUT TO:", False), ("Burn to White.", True)]
    assert [c.text for c in only(play, ft.Centered)] == ["THE END", "INTERMISSION"]
    # "TO:" without a blank line after it is not a transition
    assert pairs(play)[-1] == ("action", "SMASH CUT TO:\nSomebody yells this line.")


# --------------------------------------------------------------------------- emphasis


def styled(el):
    return [(el.text[s.start : s.end], set(s.styles)) for s in el.spans]


def test_emphasis_spans_and_escapes(load):
    actions = only(load("emphasis"), ft.Action)
    assert [styled(a) for a in actions] == [
        [("italic", {"italic"})],
        [("bold", {"bold"})],
        [("bold italic", {"bold", "italic"})],
        [("underlined", {"underline"})],
        [("bold underline", {"bold", "underline"})],
        [],  # \*9765\* is escaped
        [],  # *69 and then *23: both asterisks have a space on their left
        [("69 and then 23", {"italic"})],
    ]
    assert actions[5].text == "Code *9765* is typed."
    assert actions[6].text == "He dialed *69 and then *23, and then hung up."


def test_emphasis_does_not_cross_line_breaks():
    text, spans = ft.parse_emphasis("*start here\nand end here*")
    assert text == "*start here\nand end here*" and spans == ()
    text, spans = ft.parse_emphasis("a\n**b**")
    assert text == "a\nb" and [(s.start, s.end) for s in spans] == [(2, 3)]


# --------------------------------------------------------------------------- notes, boneyard


def test_notes_inline_and_standalone(load):
    play = load("notes_boneyard")
    action = only(play, ft.Action)[0]
    assert action.text == "The door rolls up. Light floods in."
    assert action.notes == ("Check the rig height.",)
    notes = only(play, ft.Note)
    assert [(n.text, n.line) for n in notes] == [("A standalone note\nthat spans two lines.", 5)]


def test_boneyard_is_removed_and_line_numbers_survive(load):
    play = load("notes_boneyard")
    assert ("dialogue", "Hand me the wrench.") in pairs(play)
    assert not any("CUT SCENE" in e.text for e in play.elements)
    assert [line for line, _ in play.boneyard] == [9, 11]
    assert only(play, ft.Action)[-1].line == 17


# --------------------------------------------------------------------------- structure


def test_sections_synopses_and_page_breaks(load):
    play = load("structure")
    assert [(s.text, s.depth) for s in only(play, ft.Section)] == [
        ("ACT ONE", 1),
        ("The Setup", 2),
        ("Morning", 3),
        ("ACT TWO", 1),
    ]
    assert [s.text for s in only(play, ft.Synopsis)] == ["The crew arrives before sunrise."]
    assert [p.line for p in only(play, ft.PageBreak)] == [13, 19]
    assert len(play.scenes()) == 2


def test_fixtures_cover_every_element_kind(load):
    names = [
        "title_page",
        "scene_headings",
        "action",
        "dialogue",
        "transitions_centered",
        "emphasis",
        "notes_boneyard",
        "structure",
    ]
    seen = {e.kind for name in names for e in load(name).elements}
    every = {
        cls.kind
        for cls in vars(ft).values()
        if isinstance(cls, type) and issubclass(cls, ft.Element) and cls is not ft.Element
    }
    assert seen == every


# --------------------------------------------------------------------------- line endings, warnings


def test_crlf_and_cr_give_the_same_elements_and_lines(load):
    text = Path(load("dialogue").source).read_text()
    lf = parse(text)
    for newline in ("\r\n", "\r"):
        other = parse(text.replace("\n", newline))
        assert [(e.kind, e.text, e.line) for e in other.elements] == [(e.kind, e.text, e.line) for e in lf.elements]


def test_odd_screenplay_gives_warnings_with_line_numbers(load):
    play = load("odd")
    assert [w.line for w in play.warnings] == [1, 4, 7, 9, 11, 14, 16]
    text = "\n".join(str(w) for w in play.warnings)
    for phrase in (
        "not followed by a blank line",
        "parenthetical without a character",
        "'BOB' has no dialogue",
        "stray '*/'",
        "dual dialogue",
        "unclosed boneyard",
        "unclosed note",
    ):
        assert phrase in text
    # the unclosed markers are kept as text, nothing after them is lost
    assert pairs(play)[-2:] == [("action", "/* this boneyard never closes"), ("action", "[[ nor does this note")]


@pytest.mark.parametrize("text", ["", "   \n\n\t\n"])
def test_empty_screenplay_warns(text):
    play = parse(text)
    assert play.elements == [] and play.scenes() == []
    assert [(w.line, w.message) for w in play.warnings] == [(1, "the screenplay is empty")]


def test_script_without_headings_warns_and_becomes_one_scene():
    play = parse("\nBob runs.\n\nBOB\nRun!\n")
    assert play.warnings[0].line == 2 and "no scene headings" in play.warnings[0].message
    scenes = play.scenes()
    assert len(scenes) == 1 and scenes[0].heading is None


def test_parser_never_raises_on_random_input():
    tokens = [
        "INT. ",
        "EXT. ",
        ".",
        "!",
        "@",
        "~",
        ">",
        "<",
        "#",
        "=",
        "===",
        "[[",
        "]]",
        "/*",
        "*/",
        "*",
        "**",
        "_",
        "\\",
        "^",
        "(",
        ")",
        "BOB",
        "bob",
        " ",
        "  ",
        "\t",
        "\n",
        "\n\n",
        "TO:",
        "DAY",
        " - ",
        "Title:",
        "#1A#",
        "é",
        "\r\n",
        "\x0c",
    ]
    rng = random.Random(0)
    for _ in range(400):
        text = "".join(rng.choice(tokens) for _ in range(rng.randint(0, 60)))
        play = parse(text)
        play.scenes()
        assert all(w.line >= 1 for w in play.warnings)


# --------------------------------------------------------------------------- files


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ScreenplayError, match="not found"):
        parse_file(tmp_path / "nope.fountain")
    with pytest.raises(ScreenplayError, match="not a file"):
        parse_file(tmp_path)


def test_binary_file_names_the_line(tmp_path):
    path = tmp_path / "x.fountain"
    path.write_bytes(b"INT. A - DAY\n\nok\n\x00\x01\x02garbage")
    with pytest.raises(ScreenplayError, match=r"x\.fountain, line 4: binary data"):
        parse_file(path)


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "latin.fountain"
    path.write_bytes("INT. CAFÉ - DAY\n".encode() + "\nCrème brûlée.\n".encode("latin-1"))
    with pytest.raises(ScreenplayError, match=r"line 3: byte 0xe8 is not valid UTF-8"):
        parse_file(path)


@pytest.mark.parametrize("head, what", [(b"%PDF-1.7\n", "PDF"), (b"<?xml version='1.0'?>", "XML")])
def test_pdf_and_xml_are_refused(tmp_path, head, what):
    path = tmp_path / "script.fountain"
    path.write_bytes(head + b"\nstuff")
    with pytest.raises(ScreenplayError, match=what):
        parse_file(path)


def test_utf16_and_utf8_bom_are_read(tmp_path):
    text = "INT. CAFÉ - DAY\n\nSteam.\n"
    for name, data in (("a", text.encode("utf-16")), ("b", b"\xef\xbb\xbf" + text.encode())):
        path = tmp_path / f"{name}.fountain"
        path.write_bytes(data)
        assert pairs(parse_file(path)) == [("scene_heading", "INT. CAFÉ - DAY"), ("action", "Steam.")]
