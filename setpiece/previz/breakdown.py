"""Scene breakdown: where, when, who, what props, which destruction beats, how long.

Length follows the production convention: a page is ~55 formatted lines
(action wraps at ~60 characters, dialogue at ~35), counted in eighths of a
page, and one page plays for about one minute.
"""

from __future__ import annotations

import csv
import io
import json
import re
import textwrap
from dataclasses import asdict, dataclass, field

from setpiece.previz.fountain import (
    Action,
    Centered,
    Character,
    Dialogue,
    Element,
    Lyric,
    Parenthetical,
    SceneHeading,
    Screenplay,
    ScriptScene,
    Transition,
)
from setpiece.vocab import VFX_CATEGORIES

LINES_PER_PAGE = 55
ACTION_WIDTH = 60
DIALOGUE_WIDTH = 35
SECONDS_PER_PAGE = 60.0

# --------------------------------------------------------------------------- lexicons

# Destruction beats come from the shared vocabulary, in its priority order.
_VFX_RE = {name: category.regex for name, category in VFX_CATEGORIES.items()}

PROP_LEXICON = (
    "walkie-talkie",
    "fire extinguisher",
    "hard hat",
    "wrecking ball",
    "cell phone",
    "police tape",
    "caution tape",
    "traffic cone",
    "phone",
    "radio",
    "walkie",
    "flashlight",
    "lighter",
    "cigarette",
    "briefcase",
    "backpack",
    "bag",
    "laptop",
    "tablet",
    "camera",
    "binoculars",
    "map",
    "blueprint",
    "keys",
    "helmet",
    "hardhat",
    "rope",
    "ladder",
    "crowbar",
    "sledgehammer",
    "hammer",
    "detonator",
    "remote",
    "clipboard",
    "coffee",
    "mug",
    "cup",
    "bottle",
    "letter",
    "photograph",
    "photo",
    "newspaper",
    "notebook",
    "book",
    "wristwatch",
    "wallet",
    "badge",
    "handcuffs",
    "megaphone",
    "bullhorn",
    "extinguisher",
    "hose",
    "crane",
    "excavator",
    "bulldozer",
    "dynamite",
    "explosives",
    "gun",
    "pistol",
    "rifle",
    "shotgun",
    "knife",
    "monitor",
    "television",
    "tv",
    "umbrella",
    "stretcher",
    "gurney",
    "barricade",
    "bicycle",
    "motorcycle",
    "helicopter",
    "drone",
    "envelope",
    "folder",
    "stopwatch",
    "timer",
    "plunger",
    "lever",
    "car",
    "truck",
    "van",
    "ambulance",
)
_PROP_RE = re.compile(r"\b(" + "|".join(re.escape(p) for p in dict.fromkeys(PROP_LEXICON)) + r")(?:s|es)?\b", re.I)

# ALL-CAPS words in action that are not props: sounds, camera talk, fillers.
_SOUND_STEMS = (
    "boom",
    "bang",
    "crash",
    "rumbl",
    "roar",
    "creak",
    "groan",
    "screech",
    "thud",
    "crack",
    "whoosh",
    "slam",
    "ring",
    "beep",
    "click",
    "hiss",
    "snap",
    "shatter",
    "thunder",
    "scream",
    "shout",
    "yell",
    "crunch",
    "pop",
    "whump",
    "whine",
    "wail",
    "siren",
    "explo",
    "collaps",
    "buzz",
    "clang",
    "clatter",
    "smash",
    "splash",
    "honk",
    "knock",
    "bam",
    "wham",
)
_CAPS_STOP = {
    "A",
    "AN",
    "THE",
    "I",
    "OK",
    "OKAY",
    "INT",
    "EXT",
    "POV",
    "CU",
    "ECU",
    "MCU",
    "WS",
    "MS",
    "EWS",
    "INSERT",
    "ANGLE",
    "ON",
    "CLOSE",
    "BACK",
    "TO",
    "SCENE",
    "SUPER",
    "TITLE",
    "MONTAGE",
    "INTERCUT",
    "FLASHBACK",
    "END",
    "CONTINUED",
    "CONT'D",
    "LATER",
    "FADE",
    "CUT",
    "DISSOLVE",
    "SMASH",
    "SLOW",
    "MOTION",
    "WE",
    "SFX",
    "VFX",
    "FX",
    "DAY",
    "NIGHT",
    "V.O.",
    "O.S.",
    "AND",
    "OF",
    "IN",
    "AT",
    "NO",
    "YES",
    "SERIES",
    "SHOTS",
    "ESTABLISHING",
}
_CAPS_RUN = re.compile(r"\b[A-Z][A-Z0-9'.\-]*[A-Z0-9](?:[ ]+[A-Z][A-Z0-9'.\-]*[A-Z0-9])*\b")
_AGE_AFTER = re.compile(r"\s*\([^)]*\d[^)]*\)")

# Heading time of day -> key of setpiece.vocab.LIGHT_PRESETS ("" keeps the previous scene's).
_TIMES = {
    "DAY": "day",
    "AFTERNOON": "afternoon",
    "NOON": "noon",
    "MIDDAY": "noon",
    "MORNING": "morning",
    "EVENING": "evening",
    "DAWN": "dawn",
    "SUNRISE": "dawn",
    "DUSK": "dusk",
    "SUNSET": "dusk",
    "MAGIC HOUR": "golden hour",
    "GOLDEN HOUR": "golden hour",
    "TWILIGHT": "dusk",
    "NIGHT": "night",
    "MIDNIGHT": "night",
    "LATE NIGHT": "night",
    "CONTINUOUS": "",
    "LATER": "",
    "MOMENTS LATER": "",
    "SAME": "",
    "SAME TIME": "",
}
_OFF_SCREEN = {"VO", "OS", "OC", "OFF", "OFF SCREEN", "VOICE OVER"}
_INT_EXT = re.compile(r"^(INT\.?/EXT|EXT\.?/INT|INT/EXT|I/E|E/I|INT|EXT|EST)\.?\s*", re.I)

# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class VfxBeat:
    category: str  # key of setpiece.vocab.VFX_CATEGORIES
    keyword: str  # the word that matched
    line: int
    text: str  # the action line it is on


@dataclass(frozen=True)
class Prop:
    name: str
    line: int  # first mention in the scene


@dataclass(frozen=True)
class Speech:
    character: str
    line: int
    text: str
    parenthetical: str = ""
    dual: bool = False
    lines: int = 1  # formatted lines of dialogue
    off_screen: bool = False  # (V.O.), (O.S.), (O.C.): heard, not seen


@dataclass
class SceneBreakdown:
    index: int  # 1-based position in the script
    number: str  # scene number (explicit #N# or the position)
    heading: str
    line: int
    int_ext: str  # INT | EXT | INT/EXT | "" (forced headings)
    location: str
    time_of_day: str  # as written: DAY, NIGHT, CONTINUOUS...
    lighting: str  # resolved: a key of setpiece.vocab.LIGHT_PRESETS
    speaking: list[str] = field(default_factory=list)
    mentioned: list[str] = field(default_factory=list)
    props: list[Prop] = field(default_factory=list)
    vfx: list[VfxBeat] = field(default_factory=list)
    speeches: list[Speech] = field(default_factory=list)
    summary: str = ""  # first sentence of the first action paragraph
    eighths: int = 1
    screen_time_s: float = 7.5

    @property
    def pages(self) -> str:
        return format_eighths(self.eighths)

    def to_dict(self) -> dict:
        return asdict(self) | {"pages": self.pages}


def format_eighths(eighths: int) -> str:
    """Page count the way a breakdown sheet writes it: '1 3/8'."""
    whole, rest = divmod(eighths, 8)
    if not rest:
        return str(whole)
    return f"{whole} {rest}/8" if whole else f"{rest}/8"


# --------------------------------------------------------------------------- breakdown


def break_down(play: Screenplay) -> list[SceneBreakdown]:
    """One breakdown per scene, in script order."""
    scenes = play.scenes()
    speakers = {el.name for el in play.elements if isinstance(el, Character)}
    introduced = {name for scene in scenes for name in _introduced_names(scene)}
    known = speakers | introduced
    out: list[SceneBreakdown] = []
    for index, scene in enumerate(scenes, start=1):
        previous = out[-1].lighting if out else "day"
        out.append(_scene_breakdown(index, scene, known, previous))
    return out


def _scene_breakdown(index: int, scene: ScriptScene, known: set[str], previous_light: str) -> SceneBreakdown:
    heading = scene.heading.text if scene.heading else "(no scene heading)"
    int_ext, location, time = parse_heading(heading) if scene.heading else ("", "", "")
    actions = [el for el in scene.elements if isinstance(el, Action)]
    speeches = _speeches(scene.elements)
    speaking = list(dict.fromkeys(s.character for s in speeches))
    lines = formatted_lines(([scene.heading] if scene.heading else []) + scene.elements)
    eighths = max(1, round(lines * 8 / LINES_PER_PAGE))
    return SceneBreakdown(
        index=index,
        number=scene.number,
        heading=heading,
        line=scene.line,
        int_ext=int_ext,
        location=location,
        time_of_day=time,
        lighting=_TIMES.get(time.upper(), "") or previous_light,
        speaking=speaking,
        mentioned=_mentioned(actions, known - set(speaking)),
        props=_props(actions, known),
        vfx=[beat for el in actions for beat in vfx_beats(el)],
        speeches=speeches,
        summary=_first_sentence(actions[0].text) if actions else "",
        eighths=eighths,
        screen_time_s=eighths / 8 * SECONDS_PER_PAGE,
    )


def parse_heading(heading: str) -> tuple[str, str, str]:
    """'INT. HOUSE - KITCHEN - NIGHT' -> ('INT', 'HOUSE - KITCHEN', 'NIGHT')."""
    int_ext = ""
    if m := _INT_EXT.match(heading):
        prefix = m.group(1).upper().replace(".", "")
        int_ext = {"INT": "INT", "EXT": "EXT", "EST": "EXT"}.get(prefix, "INT/EXT")
        heading = heading[m.end() :]
    parts = re.split(r"\s+(?:-{1,2}|–|—)\s+", heading.strip())
    time = ""
    if len(parts) > 1 and parts[-1].upper().split(" (")[0].strip() in _TIMES:
        time = parts.pop()
    return int_ext, " - ".join(parts).strip(), time


def _speeches(elements: list[Element]) -> list[Speech]:
    speeches: list[Speech] = []
    cue: Character | None = None
    paren, texts, first_line, n_lines = "", [], 0, 0

    def close() -> None:
        if cue and texts:
            off = any(e.upper().replace(".", "") in _OFF_SCREEN for e in cue.extensions)
            speeches.append(Speech(cue.name, first_line, "\n".join(texts), paren, cue.dual, n_lines, off))

    for el in elements:
        if isinstance(el, Character):
            close()
            cue, paren, texts, first_line, n_lines = el, "", [], el.line, 0
        elif cue and isinstance(el, Parenthetical):
            paren = paren or el.text
        elif cue and isinstance(el, (Dialogue, Lyric)):
            texts.append(el.text)
            n_lines += _wrapped(el.text, DIALOGUE_WIDTH)
        elif isinstance(el, (Action, Transition, Centered, SceneHeading)):
            close()
            cue = None
    close()
    return speeches


def formatted_lines(elements: list[Element]) -> int:
    """Lines these elements take on a formatted page, blank lines included."""
    total = 0
    for el in elements:
        if isinstance(el, (SceneHeading, Transition, Centered, Character)):
            total += 2  # the line and the blank after it (a cue: the blank after its block)
        elif isinstance(el, Action):
            total += _wrapped(el.text, ACTION_WIDTH) + 1
        elif isinstance(el, (Dialogue, Parenthetical, Lyric)):
            total += _wrapped(el.text, DIALOGUE_WIDTH)
    return total


def _wrapped(text: str, width: int) -> int:
    return sum(max(1, len(textwrap.wrap(line, width))) for line in text.split("\n"))


def vfx_beats(action: Action) -> list[VfxBeat]:
    """One beat per destruction category per action line."""
    beats = []
    for text, line in zip(action.text.split("\n"), action.lines):
        for category, pattern in _VFX_RE.items():
            if m := pattern.search(text):
                beats.append(VfxBeat(category, m.group(0).lower(), line, text.strip()))
    return beats


def _props(actions: list[Action], known: set[str]) -> list[Prop]:
    found: dict[str, int] = {}
    for action in actions:
        for text, line in zip(action.text.split("\n"), action.lines):
            for m in _PROP_RE.finditer(text):
                found.setdefault(m.group(1).lower(), line)
            for name in _caps_props(text, known):
                found.setdefault(name, line)
    return [Prop(name, line) for name, line in found.items()]


def _caps_props(text: str, known: set[str]) -> list[str]:
    """ALL-CAPS runs in a sentence-case line that are not people or sounds."""
    if not any(c.islower() for c in text):
        return []  # a shouted or title line, not a prop mention
    props = []
    for m in _CAPS_RUN.finditer(text):
        if _AGE_AFTER.match(text, m.end()):
            continue  # a character introduction
        for words in _segments(m.group(0).split()):
            name = " ".join(words)
            if (
                name in known
                or any(w.lower().startswith(_SOUND_STEMS) for w in words)
                or any(p.search(name) for p in _VFX_RE.values())
            ):
                continue
            props.append(name.lower())
    return props


def _segments(words: list[str]) -> list[list[str]]:
    """Split a caps run at filler words: 'MAYA AND THE RADIO' -> MAYA, RADIO."""
    out: list[list[str]] = [[]]
    for word in words:
        word = word.removesuffix("'S")
        if word in _CAPS_STOP:
            out.append([])
        else:
            out[-1].append(word)
    return [seg for seg in out if seg]


def _introduced_names(scene: ScriptScene) -> list[str]:
    """Characters introduced in CAPS with an age: 'MAYA (30s) runs in'."""
    names = []
    for el in scene.elements:
        if isinstance(el, Action):
            for m in _CAPS_RUN.finditer(el.text):
                if _AGE_AFTER.match(el.text, m.end()):
                    names.append(m.group(0).removesuffix("'S"))
    return names


def _mentioned(actions: list[Action], candidates: set[str]) -> list[str]:
    """Candidates seen in the action (as written, in CAPS or in Title Case)."""
    text = "\n".join(a.text for a in actions)
    found = []
    for name in sorted(candidates):
        forms = {name, name.upper(), name.title()}
        positions = [m.start() for f in forms for m in re.finditer(rf"(?<!\w){re.escape(f)}(?!\w)", text)]
        if positions:
            found.append((min(positions), name))
    return [name for _, name in sorted(found)]


def _first_sentence(text: str, limit: int = 120) -> str:
    """Opening sentence(s) of an action paragraph, at least a few words long."""
    sentences = re.split(r"(?<=[.!?])\s", " ".join(text.split()))
    summary = ""
    for sentence in sentences:
        summary = f"{summary} {sentence}".strip()
        if len(summary) >= 30:
            break
    return summary if len(summary) <= limit else summary[: limit - 1].rstrip() + "…"


# --------------------------------------------------------------------------- reports


def breakdown_json(scenes: list[SceneBreakdown], play: Screenplay) -> str:
    data = {
        "title": play.title,
        "source": play.source,
        "title_page": play.title_page,
        "total_eighths": sum(s.eighths for s in scenes),
        "total_pages": format_eighths(sum(s.eighths for s in scenes)),
        "screen_time_s": sum(s.screen_time_s for s in scenes),
        "warnings": [{"line": w.line, "message": w.message} for w in play.warnings],
        "scenes": [s.to_dict() for s in scenes],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


CSV_COLUMNS = (
    "number",
    "heading",
    "line",
    "int_ext",
    "location",
    "time_of_day",
    "pages",
    "screen_time_s",
    "speaking",
    "mentioned",
    "props",
    "vfx",
)


def breakdown_csv(scenes: list[SceneBreakdown]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for s in scenes:
        writer.writerow(
            [
                s.number,
                s.heading,
                s.line,
                s.int_ext,
                s.location,
                s.time_of_day,
                s.pages,
                f"{s.screen_time_s:.1f}",
                "; ".join(s.speaking),
                "; ".join(s.mentioned),
                "; ".join(p.name for p in s.props),
                "; ".join(f"{b.category}@{b.line}" for b in s.vfx),
            ]
        )
    return buf.getvalue()


def breakdown_markdown(scenes: list[SceneBreakdown], play: Screenplay) -> str:
    total = sum(s.eighths for s in scenes)
    out = [
        f"# Breakdown: {play.title or play.source}",
        "",
        f"{len(scenes)} scenes, {format_eighths(total)} pages, "
        f"about {sum(s.screen_time_s for s in scenes) / 60:.1f} min.",
        "",
    ]
    for s in scenes:
        out += [
            f"## Scene {s.number}: {s.heading}",
            "",
            f"- Line {s.line}; {s.int_ext or '-'} / {s.location or '-'} / "
            f"{s.time_of_day or '-'} (lighting: {s.lighting})",
            f"- Length: {s.pages} pages, ~{s.screen_time_s:.0f} s",
            f"- Speaking: {', '.join(s.speaking) or '-'}",
            f"- Mentioned: {', '.join(s.mentioned) or '-'}",
            f"- Props: {', '.join(p.name for p in s.props) or '-'}",
        ]
        if s.vfx:
            out.append("- VFX beats:")
            out += [f"  - **{b.category}** (line {b.line}): {b.text}" for b in s.vfx]
        out.append("")
    if play.warnings:
        out += ["## Warnings", ""] + [f"- {w}" for w in play.warnings] + [""]
    return "\n".join(out)
