"""Shot list: deterministic coverage per scene, editable as CSV or TOML.

Coverage rules, per scene, in story order (by source line):
- establishing (EWS exterior / WS interior) when the location changes;
- a master (WS) of the scene;
- dialogue setups for on-screen speakers: over-the-shoulder on each when two
  people talk, singles (MCU) otherwise; voice-over speakers get none;
- up to three inserts (CU) of hand props, at their first mention;
- one VFX shot per action line with destruction beats, framed by its category.

VFX shots, establishing shots and inserts have set lengths; the master and the
dialogue setups share the rest of the scene's estimated screen time (by lines
spoken), so a scene's shots add up to its screen time unless its set pieces
alone run longer.
"""

from __future__ import annotations

import csv
import io
import math
import re
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from setpiece import tomlio
from setpiece.errors import InputError
from setpiece.previz.breakdown import SceneBreakdown, Speech
from setpiece.spec import ShotSpec, spec_from_dict
from setpiece.vocab import DEFAULT_VFX, LIGHT_PRESETS, SHOT_SIZES, VFX_CATEGORIES

KINDS = ("establishing", "master", "single", "ots", "insert", "vfx")
SIZES = tuple(SHOT_SIZES)
ANGLES = ("eye level", "low", "high", "overhead", "dutch")
MOVES = ("static", "pan", "dolly", "push-in", "crane", "handheld")
LENS_RANGE = (8.0, 300.0)  # mm, as ShotSpec's camera accepts
MAX_DURATION_S = 600.0
SHOT_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O, as on set

ESTABLISHING_S = 3.0
INSERT_S = 2.0
MAX_INSERTS = 3
MIN_FLEX_S = 1.5  # shortest master or dialogue setup
MASTER_SHARE = 0.35  # of the flexible time, when there are dialogue setups

# Vehicles and set dressing do not get an insert.
LARGE_PROPS = {
    "car",
    "truck",
    "van",
    "ambulance",
    "crane",
    "excavator",
    "bulldozer",
    "helicopter",
    "wrecking ball",
    "drone",
    "motorcycle",
    "bicycle",
    "barricade",
    "police tape",
    "caution tape",
    "traffic cone",
}


class ShotListError(InputError):
    """An edited shot list has a bad row or field."""


@dataclass
class Shot:
    number: str  # "3A": scene 3, first setup
    scene: str
    kind: str  # one of KINDS
    size: str  # one of SIZES
    angle: str  # one of ANGLES
    lens_mm: float
    move: str  # one of MOVES
    duration_s: float
    description: str = ""
    characters: list[str] = field(default_factory=list)
    subject: str = ""  # location, character, prop, or VFX category (kind "vfx")
    line: int = 0  # screenplay line it covers

    def to_dict(self) -> dict:
        return asdict(self)


def frames_at(seconds: float, fps: float) -> int:
    return max(1, round(seconds * fps))


# --------------------------------------------------------------------------- coverage


@dataclass
class _Plan:
    shot: Shot
    weight: float = 0.0  # > 0: shares the flexible time; 0: keeps its duration


def generate_shots(scenes: list[SceneBreakdown]) -> list[Shot]:
    """Coverage for every scene, numbered 1A, 1B, ... in story order."""
    shots: list[Shot] = []
    previous_location: str | None = None
    for scene in scenes:
        shots += scene_coverage(scene, new_location=scene.location != previous_location)
        previous_location = scene.location
    return shots


def scene_coverage(scene: SceneBreakdown, new_location: bool = True) -> list[Shot]:
    plans: list[_Plan] = []
    if new_location:
        plans.append(_Plan(_establishing(scene)))
    on_screen = [s for s in scene.speeches if not s.off_screen]
    plans.append(_Plan(_master(scene, bool(on_screen)), weight=1.0))
    plans += _dialogue_setups(scene, on_screen)
    plans += [_Plan(_insert(scene, p.name, p.line)) for p in scene.props if p.name not in LARGE_PROPS][:MAX_INSERTS]
    plans += _vfx_shots(scene)
    _share_time(plans, scene.screen_time_s)
    ordered = sorted(enumerate(plans), key=lambda ip: (ip[1].shot.line, ip[0]))
    shots = [plan.shot for _, plan in ordered]
    for k, shot in enumerate(shots):
        shot.number = shot_number(scene.number, k)
    return shots


def shot_number(scene_number: str, index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, len(SHOT_LETTERS))
        letters = SHOT_LETTERS[rem] + letters
    sep = "-" if scene_number[-1:].isalpha() else ""
    return f"{scene_number}{sep}{letters}"


def _shot(scene: SceneBreakdown, **kw) -> Shot:
    return Shot(number="", scene=scene.number, **kw)


def _establishing(scene: SceneBreakdown) -> Shot:
    where = scene.location or scene.heading
    when = f", {scene.lighting}" if scene.lighting else ""
    if scene.int_ext == "INT":
        return _shot(
            scene,
            kind="establishing",
            size="WS",
            angle="eye level",
            lens_mm=24.0,
            move="pan",
            duration_s=ESTABLISHING_S,
            subject=where,
            line=scene.line,
            description=f"Establish {where}{when}",
        )
    return _shot(
        scene,
        kind="establishing",
        size="EWS",
        angle="high",
        lens_mm=18.0,
        move="crane",
        duration_s=ESTABLISHING_S,
        subject=where,
        line=scene.line,
        description=f"Establish {where}{when}",
    )


def _master(scene: SceneBreakdown, has_dialogue: bool) -> Shot:
    people = list(dict.fromkeys([s.character for s in scene.speeches if not s.off_screen] + scene.mentioned))
    return _shot(
        scene,
        kind="master",
        size="WS",
        angle="eye level",
        lens_mm=24.0 if scene.int_ext == "INT" else 28.0,
        move="static" if has_dialogue else "dolly",
        duration_s=0.0,
        characters=people,
        subject=scene.location or scene.heading,
        line=scene.line,
        description=scene.summary or f"Master of {scene.location or scene.heading}",
    )


def _dialogue_setups(scene: SceneBreakdown, speeches: list[Speech]) -> list[_Plan]:
    speakers = list(dict.fromkeys(s.character for s in speeches))
    plans = []
    for who in speakers:
        mine = [s for s in speeches if s.character == who]
        first = mine[0]
        quote = _quote(first.text)
        if len(speakers) == 2:
            other = next(s for s in speakers if s != who)
            shot = _shot(
                scene,
                kind="ots",
                size="MS",
                angle="eye level",
                lens_mm=50.0,
                move="static",
                duration_s=0.0,
                characters=[who, other],
                subject=who,
                line=first.line,
                description=f"OTS {other} onto {who}: {quote}",
            )
        else:
            shot = _shot(
                scene,
                kind="single",
                size="MCU",
                angle="eye level",
                lens_mm=75.0,
                move="static",
                duration_s=0.0,
                characters=[who],
                subject=who,
                line=first.line,
                description=f"{who}: {quote}",
            )
        plans.append(_Plan(shot, weight=float(sum(s.lines for s in mine))))
    return plans


def _insert(scene: SceneBreakdown, prop: str, line: int) -> Shot:
    return _shot(
        scene,
        kind="insert",
        size="CU",
        angle="high",
        lens_mm=85.0,
        move="static",
        duration_s=INSERT_S,
        subject=prop,
        line=line,
        description=f"Insert: the {prop}",
    )


def _vfx_shots(scene: SceneBreakdown) -> list[_Plan]:
    """One shot per action line with beats; the first category (by priority) leads."""
    by_line: dict[int, list] = {}
    for beat in scene.vfx:
        by_line.setdefault(beat.line, []).append(beat)
    plans = []
    for line, beats in by_line.items():
        lead = beats[0]
        setup = VFX_CATEGORIES.get(lead.category, VFX_CATEGORIES[DEFAULT_VFX])
        size, angle, lens, move, seconds = setup.size, setup.angle, setup.lens_mm, setup.move, setup.seconds
        if scene.int_ext == "INT" and size == "EWS":
            size = "WS"
        text = lead.text + also_note([b.category for b in beats[1:]])
        plans.append(
            _Plan(
                _shot(
                    scene,
                    kind="vfx",
                    size=size,
                    angle=angle,
                    lens_mm=lens,
                    move=move,
                    duration_s=seconds,
                    subject=lead.category,
                    line=line,
                    description=text,
                )
            )
        )
    return plans


_ALSO = re.compile(r"\[also: ([^\]]*)\]")


def also_note(categories: list[str]) -> str:
    """The note a VFX shot's description carries about its other categories."""
    return f" [also: {', '.join(categories)}]" if categories else ""


def also_categories(description: str) -> list[str]:
    """The categories an ``also_note`` in a (possibly edited) description names."""
    m = _ALSO.search(description)
    return [c.strip().lower() for c in m.group(1).split(",") if c.strip()] if m else []


def _share_time(plans: list[_Plan], screen_time_s: float) -> None:
    """Give weighted shots what the set shots leave of the screen time."""
    flexible = [p for p in plans if p.weight > 0]
    fixed = sum(p.shot.duration_s for p in plans if p.weight == 0)
    budget = max(screen_time_s - fixed, MIN_FLEX_S * len(flexible))
    master, setups = flexible[0], flexible[1:]
    if setups:
        master.shot.duration_s = _round(budget * MASTER_SHARE)
        rest, total = budget * (1 - MASTER_SHARE), sum(p.weight for p in setups)
        for p in setups:
            p.shot.duration_s = _round(rest * p.weight / total)
    else:
        master.shot.duration_s = _round(budget)


def _round(seconds: float) -> float:
    """To the half second, never below the shortest setup."""
    return max(MIN_FLEX_S, round(seconds * 2) / 2)


def _quote(text: str, limit: int = 60) -> str:
    one = " ".join(text.split())
    return f'"{one}"' if len(one) <= limit else f'"{one[: limit - 1].rstrip()}…"'


# --------------------------------------------------------------------------- CSV and TOML

COLUMNS = tuple(f.name for f in fields(Shot))
REQUIRED = ("number", "scene", "kind", "size", "lens_mm", "move", "duration_s")


def shots_to_csv(shots: list[Shot]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for shot in shots:
        row = asdict(shot)
        row["characters"] = "; ".join(shot.characters)
        row["lens_mm"] = _num(shot.lens_mm)
        row["duration_s"] = _num(shot.duration_s)
        writer.writerow([row[c] for c in COLUMNS])
    return buf.getvalue()


def shots_from_csv(text: str, source: str = "shotlist.csv") -> list[Shot]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ShotListError(
            f"{source}, line 1: missing column(s) {', '.join(missing)}; the header must name {', '.join(COLUMNS)}"
        )
    shots = []
    for row in reader:
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # blank row left by a spreadsheet
        where = f"{source}, line {reader.line_num}"
        shots.append(shot_from_fields(row, where))
    return _check_unique(shots, source)


def shots_to_toml(shots: list[Shot]) -> str:
    header = "\n".join(
        [
            "setpiece shot list: edit values freely; one [[shot]] table per shot.",
            f"kind: {', '.join(KINDS)}",
            f"size: {', '.join(SIZES)}; angle: {', '.join(ANGLES)}",
            f"move: {', '.join(MOVES)}; lens_mm: {LENS_RANGE[0]:g}-{LENS_RANGE[1]:g}",
        ]
    )
    return tomlio.dumps({"shot": [asdict(shot) for shot in shots]}, header=header)


def shots_from_toml(text: str, source: str = "shotlist.toml") -> list[Shot]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ShotListError(f"{source}: not valid TOML: {err}") from None
    table = data.get("shot", [])
    if not isinstance(table, list) or not all(isinstance(t, dict) for t in table):
        raise ShotListError(f"{source}: shots must be [[shot]] tables")
    shots = []
    for k, entry in enumerate(table, start=1):
        where = f"{source}, [[shot]] #{k}" + (f" ({entry['number']})" if "number" in entry else "")
        missing = [c for c in REQUIRED if c not in entry]
        if missing:
            raise ShotListError(f"{where}: missing field(s) {', '.join(missing)}")
        shots.append(shot_from_fields(entry, where))
    return _check_unique(shots, source)


def write_shotlist(shots: list[Shot], path: str | Path) -> Path:
    """Write CSV or TOML, by the file's suffix."""
    path = Path(path)
    writers = {".csv": shots_to_csv, ".toml": shots_to_toml}
    if path.suffix.lower() not in writers:
        raise ShotListError(f"shot list {path}: use a .csv or .toml file name")
    path.write_text(writers[path.suffix.lower()](shots), encoding="utf-8")
    return path


def read_shotlist(path: str | Path) -> list[Shot]:
    """Read an edited .csv or .toml shot list; bad rows raise ShotListError."""
    path = Path(path)
    readers = {".csv": shots_from_csv, ".toml": shots_from_toml}
    if path.suffix.lower() not in readers:
        raise ShotListError(f"shot list {path}: use a .csv or .toml file")
    if not path.is_file():
        raise ShotListError(f"shot list not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ShotListError(f"shot list {path}: not UTF-8 text") from None
    return readers[path.suffix.lower()](text, str(path))


def shot_from_fields(raw: dict, where: str) -> Shot:
    """Validate one row/table; errors name the place and the field."""

    def bad(name: str, expected: str) -> ShotListError:
        return ShotListError(f"{where}, field '{name}': expected {expected}, got {raw.get(name)!r}")

    def text(name: str) -> str:
        value = raw.get(name)
        return "" if value is None else str(value).strip()

    def choice(name: str, options: tuple[str, ...], default: str | None = None) -> str:
        value = text(name) or (default or "")
        match = next((o for o in options if o.lower() == value.lower()), None)
        if match is None:
            raise bad(name, "one of " + ", ".join(options))
        return match

    def number(name: str, lo: float, hi: float, lo_open: bool = False) -> float:
        try:
            value = float(raw.get(name))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise bad(name, f"a number from {lo:g} to {hi:g}") from None
        if not math.isfinite(value) or value > hi or value < lo or (lo_open and value == lo):
            raise bad(name, f"a number from {lo:g} to {hi:g}")
        return value

    for name in ("number", "scene"):
        if not text(name):
            raise bad(name, "a non-empty value")
    chars = raw.get("characters") or []
    if isinstance(chars, str):
        chars = [c.strip() for c in chars.split(";")]
    if not isinstance(chars, list):
        raise bad("characters", "names separated by ';'")
    line = text("line") or "0"
    if not line.isdigit():
        raise bad("line", "a whole number")
    return Shot(
        number=text("number"),
        scene=text("scene"),
        kind=choice("kind", KINDS),
        size=choice("size", SIZES),
        angle=choice("angle", ANGLES, "eye level"),
        lens_mm=number("lens_mm", *LENS_RANGE),
        move=choice("move", MOVES),
        duration_s=number("duration_s", 0.0, MAX_DURATION_S, lo_open=True),
        description=text("description"),
        subject=text("subject"),
        line=int(line),
        characters=[str(c).strip() for c in chars if str(c).strip()],
    )


def _check_unique(shots: list[Shot], source: str) -> list[Shot]:
    seen: set[str] = set()
    for shot in shots:
        if shot.number in seen:
            raise ShotListError(f"{source}: shot number {shot.number!r} appears twice")
        seen.add(shot.number)
    return shots


def _num(value: float) -> str:
    return f"{value:g}"


# --------------------------------------------------------------------------- ShotSpec


def shot_to_spec(
    shot: Shot, scene: SceneBreakdown | None = None, base: ShotSpec | None = None, fps: float = 24.0
) -> ShotSpec:
    """A VFX shot as a setpiece ShotSpec: lens, length, trigger, dust, light.

    ``base`` supplies everything the shot list does not say (building, render...)."""
    if shot.kind != "vfx":
        raise ShotListError(f"shot {shot.number} is of kind '{shot.kind}'; only 'vfx' shots can become a ShotSpec")
    data = (base or ShotSpec()).model_dump(mode="json")
    category = VFX_CATEGORIES.get(shot.subject.lower(), VFX_CATEGORIES[DEFAULT_VFX])
    trigger, dust = category.trigger, category.dust
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", f"shot_{shot.number}")[:64]
    data["shot"].update(name=name, frames=min(2400, frames_at(shot.duration_s, fps)), fps=fps)
    data["camera"]["focal_length"] = min(max(shot.lens_mm, LENS_RANGE[0]), LENS_RANGE[1])
    data["trigger"].update(kind=trigger, time=round(min(1.0, 0.2 * shot.duration_s), 2))
    if trigger == "charges":
        data["trigger"]["side"] = "all"
    data["dust"].update(enabled=dust > 0, amount=dust or data["dust"]["amount"])
    if scene is not None and scene.lighting in LIGHT_PRESETS:
        data["light"].update(LIGHT_PRESETS[scene.lighting].spec_fields())
    return spec_from_dict(data, source=f"shot {shot.number}")
