"""read_prompt: a shot description in words -> a ShotSpec and what was understood.

Three passes over the prompt, each claiming the words it reads:
1. the grammar (numbers with units, durations, frame rates, lenses, storeys);
2. keywords of the lexicon (certain words: "brick", "implodes", "dusk");
3. the sentence-embedding matcher on what is left, for paraphrases
   ("the camera sits on the pavement opposite" -> across the street).
Then each slot's readings are resolved (contradictions warned about), turned
into spec fields, clamped to the spec's limits and validated.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from annotated_types import Ge, Gt, Le, Lt

from setpiece.prompt import grammar, lexicon
from setpiece.prompt.encoder import Encoder, load_encoder
from setpiece.prompt.grammar import Found
from setpiece.prompt.lexicon import CONCEPTS, Concept
from setpiece.prompt.text import PromptText
from setpiece.spec import WORLD_LIMIT, ShotSpec, spec_from_dict
from setpiece.vocab import LIGHT_PRESETS

# function words: a phrase for the model never starts or ends on one
STOPWORDS = frozenset(
    """a an the and or but of to in on at by for from with as is are was were be been being it its it's this that
    these those then than there their they them we us our you your he she his her i me my so very just into onto
    under about while when where which who whom what whose all any some each every both ones after before then
    during until again 's""".split()
)
# also left out of the 'words not used' list: they carry nothing a spec could hold
QUIET = STOPWORDS | frozenset(
    """one slowly suddenly finally shot camera frame building buildings structure whole entire seen see we're
    watch watching view looks look like begins starts start begin next now up down out off over""".split()
)
# words that name the subject or the action generally: a phrase of nothing else says nothing
GENERIC = frozenset(
    """collapse collapses collapsing collapsed falls fall falling fell comes come coming came goes go going down
    demolition demolished demolish building block tower structure shot camera frame footage scene street city
    int ext cut dust smoke debris brought bring brings taken take takes""".split()
)
# words too vague to match alone, though telling in a phrase ("the sun is going down")
WEAK = GENERIC | frozenset("town sky lens cloud clouds sun light air side way top bottom wall roof".split())
DUST_WORDS = frozenset("dust smoke cloud clouds debris grit rubble plume plumes haze".split())
MODEL_THRESHOLD = 0.7  # cosine similarity a phrase needs to count as a paraphrase (below, mostly wrong)
WORD_THRESHOLD = 0.8  # a single word needs more: alone it often half-matches a phrase ("town" ~ "town hall")
MODEL_MARGIN = 0.05  # over the best other value of the same slot
MAX_GRAM = 6
# values that mean nearly the same for the shot: the model need not tell them apart
KIN = {v: "low sun" for v in ("dawn", "sunrise", "golden hour", "sunset", "dusk")}
KIN |= {v: "air" for v in ("aerial", "drone", "helicopter")} | {v: "high" for v in ("rooftop", "high angle")}
KIN |= {"heavy": "much dust", "engulfing": "much dust", "wide": "wide", "ultra wide": "wide"}
WARN_SLOTS = ("kind", "mode", "side", "material", "time", "weather", "dust", "lens")
WEATHER_RANK = {"overcast": 0, "fog": 1, "rain": 2}  # these agree: the most specific one wins
# placements that only say how far: they scale the distance of a placement that says where
DISTANCE_ONLY = ("distant", "close")
# placement -> (level, how specific): placements on one level agree, and the more specific one wins
# ("on the ground ... looking up" is a low angle); a roof or crane across the street is high
PLACE_LEVEL = {"street level": ("ground", 0), "across the street": ("ground", 1), "low angle": ("ground", 2)}
PLACE_LEVEL |= {"high angle": ("high", 1), "rooftop": ("high", 2)}
PLACE_LEVEL |= {"aerial": ("air", 1), "drone": ("air", 2), "helicopter": ("air", 2)}
LEVEL_ORDER = ("ground", "high", "air")
WIDEST_MM = 14.0  # widest lens the reader picks by itself to fit a building from a set distance
# times that agree with each other: the most specific one wins without a warning
TIME_GROUPS = ({"dawn", "sunrise", "morning", "day", "golden hour"}, {"golden hour", "sunset", "dusk", "evening"})
TIME_GROUPS += ({"day", "noon", "afternoon", "morning", "golden hour"}, {"dusk", "evening", "night"})
GENERAL_TIMES = ("day", "morning", "afternoon", "evening")


@dataclass(frozen=True)
class Row:
    """One understood field: its value, the words it came from, and how sure the reader is (0..1)."""

    field: str
    value: Any
    words: str
    confidence: float


@dataclass(frozen=True)
class PromptReading:
    """What a prompt became: the spec, the rows understood, the words not used and the warnings
    (contradictions, clamped values, an empty prompt, a missing model)."""

    spec: ShotSpec
    rows: tuple[Row, ...]
    unused: tuple[str, ...]
    warnings: tuple[str, ...]
    model_used: bool

    def row(self, name: str) -> Row | None:
        return next((r for r in self.rows if r.field == name), None)


@dataclass
class _State:
    text: PromptText
    data: dict
    found: dict[str, list[Found]] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, f: Found) -> None:
        self.found.setdefault(f.slot, []).append(f)

    def words(self, f: Found) -> str:
        return self.text.words(f.first, f.last)


def read_prompt(text: str, base: ShotSpec | None = None) -> PromptReading:
    """Read a shot description; with ``base``, only what the prompt mentions changes."""
    base = base or ShotSpec()
    state = _State(PromptText(text or ""), base.model_dump(mode="json"))
    if not any(t.is_word for t in state.text.tokens):
        warning = "empty prompt: nothing to read, the spec is unchanged (describe the shot, e.g. 'a ten-storey"
        warning += " brick block implodes at dusk')"
        return PromptReading(base, (), (), (warning,), False)
    for f in grammar.read_numbers(state.text):
        state.add(f)
    _read_keywords(state)
    for f in grammar.read_height_classes(state.text):
        state.add(f)
    encoder, why_not = load_encoder()
    if encoder is None:
        state.warnings.append(why_not)
    else:
        _read_paraphrases(state, encoder)
    _apply(state, base)
    spec = spec_from_dict(state.data, "prompt")
    unused = tuple(
        state.text.prompt[t.start : t.end]
        for t in state.text.tokens
        if t.is_word and not t.used and t.text not in QUIET
    )
    return PromptReading(spec, tuple(state.rows), unused, tuple(state.warnings), encoder is not None)


# --- pass 2: keywords ---------------------------------------------------------------------------


def _compile(keyword: str) -> re.Pattern:
    # " - ?" in a keyword: the words may be joined by a hyphen, a space, or nothing ("car park", "car-park")
    return re.compile(r"(?<!\S)(?:" + keyword.replace(" - ?", "(?: - | |)") + r")(?!\S)")


_KEYWORDS: list[tuple[Concept, re.Pattern]] = [(c, _compile(k)) for c in CONCEPTS for k in c.keywords]
_NEGATED = re.compile(r"(?:no|not|without|never|zero|nor)$")


def _read_keywords(state: _State) -> None:
    """Longest keyword matches first, so 'office tower' beats 'tower' and 'no dust' beats 'dust'."""
    hits = []
    for order, (concept, pattern) in enumerate(_KEYWORDS):
        for _, first, last in state.text.find(pattern, claim=False):
            hits.append((first - last, first, order, last, concept))
    for _, first, _, last, concept in sorted(hits, key=lambda h: h[:3]):
        if any(t.used for t in state.text.tokens[first : last + 1]):
            continue
        if concept.slot == "side" and _about_dust(state.text, first):
            continue  # "dust races toward camera": where the dust goes, not the building
        state.text.claim(first, last)
        value = concept.value
        if concept.slot == "kind" and value == "charges" and _negated(state.text, first):
            value = "supports"  # "no explosives": the supports are cut
        state.add(Found(concept.slot, value, first, last, 0.95, "keyword"))


def _about_dust(text: PromptText, first: int) -> bool:
    before = [t.text for t in text.tokens[max(0, first - 4) : first]]
    while any(w in (";", ".", "!", "?", ",") for w in before):  # only within the clause
        before = before[1:]
    return any(w in DUST_WORDS for w in before)


def _negated(text: PromptText, first: int) -> bool:
    before = [t.text for t in text.tokens[max(0, first - 2) : first]]
    return any(_NEGATED.match(w) for w in before)


# --- pass 3: paraphrases ------------------------------------------------------------------------

_PHRASES: list[tuple[Concept, str]] = [(c, p) for c in CONCEPTS for p in c.phrases]


def _read_paraphrases(state: _State, encoder: Encoder) -> None:
    """Match the unclaimed n-grams against the lexicon's example phrases, best similarity first."""
    open_slots = {c.slot for c, _ in _PHRASES} - set(state.found)
    grams = [g for g in _grams(state.text) if g]
    if not grams or not open_slots:
        return
    phrase_vecs = _phrase_vectors(encoder)
    gram_vecs = encoder.encode([state.text.words(a, b).lower() for a, b in grams])
    sims = gram_vecs @ phrase_vecs.T  # (grams, phrases)
    slots = np.array([c.slot for c, _ in _PHRASES])
    candidates = []
    for slot in open_slots:
        cols = np.flatnonzero(slots == slot)
        for g, (first, last) in enumerate(grams):
            best = _best_per_value(sims[g, cols], [_PHRASES[i][0].value for i in cols])
            (value, sim), *rest = best
            kin = KIN.get(value)  # a near tie with a kindred value (sunset ~ sunrise) is no ambiguity
            runner_up = next((v_sim for v, v_sim in rest if kin is None or KIN.get(v) != kin), -1.0)
            threshold = WORD_THRESHOLD if first == last else MODEL_THRESHOLD
            if sim >= threshold and sim - runner_up >= MODEL_MARGIN:
                candidates.append((sim, first, last, slot, value))
    taken: set[str] = set()
    for sim, first, last, slot, value in sorted(candidates, key=lambda c: (-c[0], c[1])):
        if slot in taken or any(t.used for t in state.text.tokens[first : last + 1]):
            continue
        taken.add(slot)
        state.text.claim(first, last)
        state.add(Found(slot, value, first, last, round(float(sim), 2), "model"))


@lru_cache(maxsize=1)
def _phrase_vectors(encoder: Encoder) -> np.ndarray:
    """The lexicon's example phrases, embedded once per process (and kept on disk between runs)."""
    return encoder.encode_cached([p for _, p in _PHRASES])


def _best_per_value(sims: np.ndarray, values: list[str]) -> list[tuple[str, float]]:
    best: dict[str, float] = {}
    for value, sim in zip(values, sims):
        best[value] = max(best.get(value, -1.0), float(sim))
    return sorted(best.items(), key=lambda kv: -kv[1])


def _grams(text: PromptText) -> list[tuple[int, int]]:
    """Unclaimed word runs of 1..MAX_GRAM tokens that start and end on a content word."""
    out = []
    for clause in text.clauses():
        runs: list[list[int]] = [[]]
        for i in clause:
            if text.tokens[i].used or text.tokens[i].value is not None:
                runs.append([])
            else:
                runs[-1].append(i)
        for run in runs:
            for a in range(len(run)):
                for b in range(a, min(a + MAX_GRAM, len(run))):
                    words = [text.tokens[i].text for i in run[a : b + 1]]
                    if words[0] in STOPWORDS or words[-1] in STOPWORDS:
                        continue
                    content = [w for w in words if w not in STOPWORDS]
                    if all(w in GENERIC for w in content) or (len(content) == 1 and content[0] in WEAK):
                        continue  # "the building is brought down" says nothing; "the sun is going down" does
                    out.append((run[a], run[b]))
    return out


# --- resolution: readings -> spec fields ------------------------------------------------------


def _pick(state: _State, slot: str) -> Found | None:
    """The slot's reading: grammar/keywords before the model; the first mention wins a contradiction."""
    found = state.found.get(slot, [])
    if not found:
        return None
    rank = {"grammar": 0, "keyword": 0, "model": 1, "implied": 2}
    found = sorted(found, key=lambda f: (rank[f.source], f.first))
    best = found[0]
    if slot == "kind" and any(f.value == "charges" and f.source == best.source for f in found):
        return next(f for f in found if f.value == "charges")  # "charges cut the supports"
    if slot == "time":
        best = _most_specific_time([f for f in found if f.source == best.source])
    if slot == "weather":
        agreeing = [f for f in found if f.source == best.source and f.value in WEATHER_RANK]
        if best.value in WEATHER_RANK:
            best = max(agreeing, key=lambda f: WEATHER_RANK[f.value])
            found = [f for f in found if f.value not in WEATHER_RANK or f is best]
    others = [f for f in found if f.source == best.source and f.value != best.value]
    if slot == "time":
        others = [f for f in others if not any({f.value, best.value} <= group for group in TIME_GROUPS)]
    if others and slot in WARN_SLOTS:
        state.warnings.append(f"both '{state.words(best)}' and '{state.words(others[0])}' ({slot}): using {best.value}")
    return best


def _most_specific_time(found: list[Found]) -> Found:
    specific = [f for f in found if f.value not in GENERAL_TIMES]
    return (specific or found)[0]


def _apply(state: _State, base: ShotSpec) -> None:
    _apply_building(state)
    _apply_trigger(state)
    _apply_light(state)
    _apply_dust(state)
    _apply_shot(state, base)
    _apply_camera(state)
    shot, trigger = state.data["shot"], state.data["trigger"]
    if trigger["time"] >= shot["frames"] / shot["fps"]:
        state.warnings.append(
            f"trigger.time: {trigger['time']:g} s is after the shot ends ({shot['frames'] / shot['fps']:g} s):"
            " the collapse will not be seen (lengthen the shot or trigger sooner)"
        )


def _set(state: _State, path: str, value: Any, source: Found | str, confidence: float | None = None) -> Any:
    """Set a spec field, clamped to the spec's limits (with a warning naming the field); records a row."""
    section, name = path.split(".")
    value = _clamp(state, path, value)
    state.data[section][name] = value
    words = source if isinstance(source, str) else state.words(source)
    conf = confidence if confidence is not None else (source.confidence if isinstance(source, Found) else 0.6)
    state.rows[:] = [r for r in state.rows if r.field != path]  # a later, more explicit reading replaces it
    state.rows.append(Row(path, value, words, round(conf, 2)))
    return value


def _limits(path: str) -> tuple[float, float, bool]:
    """The spec field's (low, high) limits and whether the low one is open (gt)."""
    section, name = path.split(".")
    info = type(getattr(ShotSpec(), section)).model_fields[name]
    lo, hi, exclusive = -math.inf, math.inf, False
    for m in info.metadata:
        if isinstance(m, Ge | Gt):
            lo, exclusive = float(m.ge if isinstance(m, Ge) else m.gt), isinstance(m, Gt)
        if isinstance(m, Le | Lt):
            hi = float(m.le if isinstance(m, Le) else m.lt)
    return lo, hi, exclusive


def _clamp(state: _State, path: str, value: Any) -> Any:
    if path == "building.footprint":
        lo, hi = 3.0, 120.0  # BuildingSection checks these in a validator
        clamped = tuple(round(min(max(v, lo), hi), 1) for v in value)
        if clamped != tuple(value):
            shown = " x ".join(f"{v:g}" for v in value)
            state.warnings.append(f"building.footprint: {shown} m is outside {lo:g}-{hi:g} m per side: clamped")
        return clamped
    if not isinstance(value, int | float) or isinstance(value, bool):
        return value
    lo, hi, exclusive = _limits(path)
    clamped = min(max(value, lo), hi)
    if exclusive and clamped <= lo:
        clamped = min(lo + 1.0, (lo + hi) / 2)  # "0 fps": the nearest sensible value above an open bound
    if clamped != value:
        state.warnings.append(f"{path}: {value:g} is outside the spec's limits ({lo:g} to {hi:g}): using {clamped:g}")
    return type(value)(clamped)


def _apply_building(state: _State) -> None:
    b = state.data["building"]
    btype = _pick(state, "type")
    kind = lexicon.BUILDING_TYPES[btype.value] if btype else None
    material = _pick(state, "material")
    if material:
        _set(state, "building.material", material.value, material)
    elif kind and kind.material:
        _set(state, "building.material", kind.material, btype, 0.7)
    width, depth, footprint = _pick(state, "width"), _pick(state, "depth"), _pick(state, "footprint")
    if footprint or width or depth:
        w, d = footprint.value if footprint else b["footprint"]
        w, d = width.value if width else w, depth.value if depth else d
        words = ", ".join(state.words(f) for f in (footprint, width, depth) if f)
        _set(state, "building.footprint", (float(w), float(d)), words, 1.0)
    elif kind and kind.footprint:
        _set(state, "building.footprint", kind.footprint, btype, 0.6)
    floors, height, klass = _pick(state, "floors"), _pick(state, "height"), _pick(state, "height_class")
    if floors:
        _set(state, "building.floors", int(round(floors.value)), floors)
    elif height:
        _set(state, "building.floors", max(1, int(round(height.value / b["storey_height"]))), height, 0.9)
    elif kind and kind.floors:
        _set(state, "building.floors", kind.floors, btype, 0.6)
    elif klass:
        _set(state, "building.floors", lexicon.HEIGHT_CLASSES[klass.value], klass, 0.7)


def _apply_trigger(state: _State) -> None:
    t = state.data["trigger"]
    mode, side, kind = _pick(state, "mode"), _pick(state, "side"), _pick(state, "kind")
    if kind:
        _set(state, "trigger.kind", kind.value, kind)
    elif mode and mode.value == "implode":
        _set(state, "trigger.kind", "charges", f"{state.words(mode)} (an implosion is blown)", 0.6)
    if mode:
        _set(state, "trigger.mode", mode.value, mode)
    elif side and "corner" in state.words(side).lower():
        _set(state, "trigger.mode", "partial", f"{state.words(side)} (a corner gives)", 0.7)
    elif side:
        _set(state, "trigger.mode", "topple", f"{state.words(side)} (falls to one side)", 0.6)
    if side:
        _set(state, "trigger.side", side.value, side)
    elif mode and mode.value == "implode":
        _set(state, "trigger.side", "all", mode, 0.8)
    when = _pick(state, "trigger_time")
    if when:
        _set(state, "trigger.time", when.value, when)
    storeys = _pick(state, "trigger_floors")
    if storeys:
        _set(state, "trigger.floors", storeys.value, storeys)
    floors = state.data["building"]["floors"]
    hit = tuple(f for f in t["floors"] if f < floors) or (0,)
    if tuple(t["floors"]) != hit:
        t["floors"] = hit  # floors above a shorter building cannot be hit


def _apply_light(state: _State) -> None:
    time, weather = _pick(state, "time"), _pick(state, "weather")
    if time or weather:
        _apply_light_preset(state, time, weather)
    elevation = _pick(state, "sun_elevation")
    if elevation:
        _set(state, "light.sun_elevation", elevation.value, elevation)


def _apply_light_preset(state: _State, time: Found | None, weather: Found | None) -> None:
    base = LIGHT_PRESETS[time.value] if time else None
    sky = LIGHT_PRESETS[weather.value] if weather else base
    elevation_from = time or weather
    _set(state, "light.sun_elevation", (base or sky).sun_elevation, elevation_from)
    intensity = sky.sun_intensity if not base else min(base.sun_intensity, sky.sun_intensity)
    _set(state, "light.sun_intensity", intensity, weather or time)
    _set(state, "light.sun_color", (base or sky).sun_color, elevation_from)
    _set(state, "light.sky_intensity", sky.sky_intensity, weather or time)
    _set(state, "light.sky_color", sky.sky_color, weather or time)


def _apply_dust(state: _State) -> None:
    dust, number = _pick(state, "dust"), _pick(state, "dust_amount")
    if dust or number:
        amount = number.value if number else lexicon.DUST_AMOUNTS[dust.value]
        amount = _set(state, "dust.amount", amount, number or dust)
        if (amount > 0) != state.data["dust"]["enabled"]:
            _set(state, "dust.enabled", amount > 0, dust)


def _apply_shot(state: _State, base: ShotSpec) -> None:
    fps, frames, seconds = _pick(state, "fps"), _pick(state, "frames"), _pick(state, "seconds")
    if fps:
        _set(state, "shot.fps", float(fps.value), fps)
    if frames:
        _set(state, "shot.frames", int(round(frames.value)), frames)
    elif seconds:
        rate = state.data["shot"]["fps"]
        _set(state, "shot.frames", max(1, int(round(seconds.value * rate))), seconds)


def _apply_camera(state: _State) -> None:
    lens_mm, lens = _pick(state, "focal_length"), _pick(state, "lens")
    if lens_mm:
        _set(state, "camera.focal_length", float(lens_mm.value), lens_mm)
    elif lens:
        _set(state, "camera.focal_length", lexicon.LENSES[lens.value], lens)
    place, scale, across = _pick_placement(state)
    distance, height = _pick(state, "distance"), _pick(state, "camera_height")
    if not (place or scale or distance or height):
        return
    spot = lexicon.PLACEMENTS[place.value] if place else lexicon.Placement(1.7, None)
    scale_by = lexicon.PLACEMENTS[scale.value].distance_scale if scale else spot.distance_scale
    dist = distance.value if distance else spot.distance or across or _framing_distance(state.data) * scale_by
    if not (distance or lens_mm or lens) and (spot.distance or across):
        dist = _widen_to_frame(state, dist, place)
    z = height.value if height else spot.height
    nearest = max(state.data["building"]["footprint"]) / 2 + 3.0
    if dist < nearest:
        state.warnings.append(f"camera.position: {dist:g} m away is inside the building: using {nearest:g} m")
        dist = nearest
    farthest = WORLD_LIMIT * 0.7  # x and y both stay inside the spec's world
    if max(dist, z) > farthest:
        state.warnings.append(f"camera.position: {max(dist, z):g} m is beyond the shot's world: using {farthest:g} m")
        dist, z = min(dist, farthest), min(z, farthest)
    direction = np.array([0.75, -1.0]) / np.linalg.norm([0.75, -1.0])  # the automatic framing's side
    x, y = (direction * dist).round(1)
    used = [f for f in (place, scale, distance, height) if f]
    words = ", ".join(state.words(f) for f in used)
    conf = min(f.confidence for f in used)
    _set(state, "camera.position", (float(x), float(y), round(float(z), 1)), words, conf)


def _pick_placement(state: _State) -> tuple[Found | None, Found | None, float | None]:
    """Where the camera is (street, roof, air), a 'distant' or 'close' that scales its distance, and a
    distance implied by 'across the street' when the camera is up on a roof over there."""
    found = sorted(state.found.get("placement", []), key=lambda f: (f.source == "model", f.first))
    where = [f for f in found if f.value not in DISTANCE_ONLY]
    scale = next((f for f in found if f.value in DISTANCE_ONLY), None)
    if not where:
        return None, scale, None
    best = where[0]
    for f in where[1:]:
        (level, rank), (best_level, best_rank) = PLACE_LEVEL[f.value], PLACE_LEVEL[best.value]
        height, best_height = LEVEL_ORDER.index(level), LEVEL_ORDER.index(best_level)
        agree = abs(height - best_height) <= 1 and "ground" not in (level, best_level)  # looking down from the air
        across = "across the street" in (f.value, best.value) and "air" not in (level, best_level)
        agree |= level == best_level or across
        if not agree and f.source == best.source:
            state.warnings.append(f"both '{state.words(best)}' and '{state.words(f)}' (camera): using {best.value}")
        elif agree and (height > best_height or (level == best_level and rank > best_rank)):
            best = f
    across = any(f.value == "across the street" for f in where) and best.value != "across the street"
    return best, scale, lexicon.PLACEMENTS["across the street"].distance if across else None


def _widen_to_frame(state: _State, dist: float, place: Found) -> float:
    """A set distance ('across the street') and no lens asked for: widen the lens until the building
    fits (as the automatic framing fits it), down to WIDEST_MM; past that, step back. Returns the distance."""
    needed = _framing_distance(state.data)
    if needed <= dist:
        return dist
    focal = state.data["camera"]["focal_length"]
    wider = max(WIDEST_MM, focal * dist / needed)  # the framing distance scales with the focal length
    _set(state, "camera.focal_length", round(wider, 1), f"{state.words(place)} (widened to frame the building)", 0.5)
    return max(dist, _framing_distance(state.data))


def _framing_distance(data: dict) -> float:
    """Distance at which the lens frames the building (as world.building.make_camera frames it)."""
    c, r, b = data["camera"], data["render"], data["building"]
    half_fov = math.atan(c["sensor_width"] / r["width"] * r["height"] / 2 / c["focal_length"])
    extent = max(b["floors"] * b["storey_height"], max(b["footprint"])) * 0.8
    return extent / math.tan(half_fov)
