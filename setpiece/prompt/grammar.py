"""The deterministic grammar: numbers with units, durations, frame rates, lenses,
storeys, heights, footprints and distances.

Rules run in order over the canonical text (see text.PromptText) and claim the
tokens they read, so "24 fps" is never read again as a duration or a height.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from setpiece.prompt.text import PromptText

N = r"(\d+(?:\.\d+)?)"
UNIT = r"(m|metres?|meters?|ft|feet|foot|'|yards?|yds?|km|kilomet(?:er|re)s?|miles?)"
SECONDS = r"(?:seconds?|secs?|s)"
STOREYS = r"(?:storeys?|stor(?:y|ies)|floors?|levels?|stor(?:e?y)?ed|floored)"
CAMERA_WORDS = re.compile(r"camera|drone|helicopter|chopper|lens|hover\w*|fl(?:y|ies|ying|own)|shot from|aerial|crane")
BUILDING_WORDS = r"(?:tower|block|building|skyscraper|structure|chimney|stack|high - rise|highrise|office|hotel|mill)"


@dataclass
class Found:
    """One reading: a slot's value and the tokens it came from."""

    slot: str
    value: object
    first: int
    last: int
    confidence: float
    source: str  # grammar, keyword, model, implied


def _rx(pattern: str) -> re.Pattern:
    return re.compile(r"(?<!\S)" + pattern + r"(?!\S)")


def metres(value: float, unit: str) -> float:
    """A length in metres; unit is one UNIT matched."""
    if unit.startswith(("ft", "fe", "fo", "'")):
        return value * 0.3048
    if unit.startswith("y"):
        return value * 0.9144
    if unit.startswith("k"):
        return value * 1000.0
    if unit.startswith("mi"):
        return value * 1609.34
    return value


def read_numbers(text: PromptText) -> list[Found]:
    """All numeric facts in the prompt, each with the tokens it used."""
    found: list[Found] = []
    for rule in RULES:
        found.extend(rule(text))
    return found


def _fps(text: PromptText) -> list[Found]:
    out = []
    for pattern in (
        rf"{N} ?(?:fps|frames? (?:per|a|every|/) second|frames? - per - second|f / s|frame / s)",
        rf"(?:frame ?rate|framerate) (?:of |is |at )?{N}(?: fps)?",
        rf"(?:at|@) {N} ?p(?! \.)",  # "at 24p", not "at 3 p.m."
    ):
        for m, first, last in text.find(_rx(pattern)):
            out.append(Found("fps", float(m[1]), first, last, 1.0, "grammar"))
    return out


# clock hour -> time-of-day preset (a mid-latitude day)
HOURS = {5: "dawn", 6: "sunrise", 11: "noon", 12: "noon", 13: "noon", 17: "golden hour", 18: "golden hour"}
HOURS |= {19: "sunset", 20: "dusk"} | {h: "morning" for h in range(7, 11)} | {h: "afternoon" for h in (14, 15, 16)}


def _clock(text: PromptText) -> list[Found]:
    """'at 7pm', '6:30 a.m.', '0500 hours' -> a time-of-day preset."""
    out = []
    pattern = rf"(?:at |around |about )?{N}(?: : (\d\d))? ?(am|pm|a \. m \.?|p \. m \.?|o'clock|hours|hrs)"
    for m, first, last in text.find(_rx(pattern), claim=False):
        hour = int(float(m[1]))
        if m[3] in ("hours", "hrs"):
            if hour < 100:
                continue  # "24 hours later" is no clock time; "0500 hours" is
            hour //= 100
        if m[3] == "o'clock" and 1 <= hour <= 6:
            hour += 12  # "at 3 o'clock": a shooting day, not the small hours
        if m[3].startswith("p") and hour < 12:
            hour += 12
        elif m[3].startswith("a") and hour == 12:
            hour = 0
        if 0 <= hour <= 24:
            text.claim(first, last)
            out.append(Found("time", HOURS.get(hour % 24, "night"), first, last, 0.9, "keyword"))
    return out


ORDINALS = "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth"
ORDINALS += " fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
ORDINAL = {word: i + 1 for i, word in enumerate(ORDINALS.split())}


def _camera_floor(text: PromptText) -> list[Found]:
    """'from the tenth floor of the building opposite': the camera sits at that floor's window."""
    out = []
    words = "|".join(ORDINAL)
    pattern = rf"(?:from|on|at) (?:the |a )?(?:(\d+) (?:st|nd|rd|th)|({words})) (?:floor|storey|story)"
    for m, first, last in text.find(_rx(pattern)):
        floor = int(m[1]) if m[1] else ORDINAL[m[2]]
        out.append(Found("camera_height", round(floor * 3.2 + 1.5, 1), first, last, 0.8, "grammar"))
    return out


def _explicit(text: PromptText) -> list[Found]:
    """Fields named with a number: 'sun elevation 20 degrees', 'camera height 3 m', 'dust amount 3'."""
    out = []
    sun = rf"(?:sun|sun elevation|sun angle|sun height|elevation)(?: of| at| is| :| =)? ?{N} ?(?:°|degrees?|deg)"
    for pattern in (sun, rf"{N} ?(?:°|degrees?|deg) (?:sun|elevation|sun elevation|above the horizon)"):
        for m, first, last in text.find(_rx(pattern)):
            out.append(Found("sun_elevation", float(m[1]), first, last, 1.0, "grammar"))
    camera = rf"camera (?:height|altitude|elevation|z)(?: of| at| is| :| =)? ?{N} ?{UNIT}?"
    for m, first, last in text.find(_rx(camera)):
        out.append(Found("camera_height", metres(float(m[1]), m[2] or "m"), first, last, 1.0, "grammar"))
    for m, first, last in text.find(_rx(rf"(?:dust|smoke) (?:amount|level|density)(?: of| at| is| :| =)? ?{N}")):
        out.append(Found("dust_amount", float(m[1]), first, last, 1.0, "grammar"))
    return out


def _trigger_time(text: PromptText) -> list[Found]:
    out = []
    for pattern in (
        rf"(?:after|following|at) (?:about |around |roughly |just |only |exactly )?(?:the )?{N} ?(?:- )?{SECONDS}"
        rf"(?: mark| in)?(?! (?:shot|clip|take|long|sequence|of footage))",
        rf"{N} ?(?:- )?{SECONDS} (?:in|into (?:the |this )?(?:shot|clip|take))",
    ):
        for m, first, last in text.find(_rx(pattern)):
            out.append(Found("trigger_time", float(m[1]), first, last, 0.9, "grammar"))
    return out


def _duration(text: PromptText) -> list[Found]:
    out = []
    for m, first, last in text.find(_rx(rf"{N} ?(?:- )?(?:minutes?|mins?)(?: (?:-|long))?")):
        out.append(Found("seconds", float(m[1]) * 60.0, first, last, 1.0, "grammar"))
    for _, first, last in text.find(_rx(r"half (?:a|an) minute")):
        out.append(Found("seconds", 30.0, first, last, 1.0, "grammar"))
    for m, first, last in text.find(_rx(rf"{N} ?(?:- )?frames?(?: (?:-|long))?"), claim=False):
        text.claim(first, last)
        out.append(Found("frames", float(m[1]), first, last, 1.0, "grammar"))
    pattern = _rx(rf"{N} ?(?:- )?(seconds?|secs?|s)(?: (?:-|long))?")
    for m, first, last in text.find(pattern, claim=False):
        before = text.tokens[first - 1].text if first else ""
        if m[2] == "s" and (float(m[1]) > 60 or before in ("the", "late", "early", "mid")):
            continue  # "the 1960s", "the 70s tower": a decade, not a duration
        text.claim(first, last)
        out.append(Found("seconds", float(m[1]), first, last, 1.0, "grammar"))
    return out


def _lens(text: PromptText) -> list[Found]:
    out = []
    for pattern in (
        rf"{N} ?(?:mm|millimet(?:er|re)s?)(?: (?:lens|prime|focal length))?(?! (?:film|stock|format|print|camera))",
        rf"(?:a|on a|with a|through a) {N} (?:lens|prime)",
        rf"(?:on|with|through) an? {N}(?= ?[,.;:!)]|$)",  # "shot on a 50." (a lens, by film habit)
        rf"focal length (?:of )?{N}",
    ):
        for m, first, last in text.find(_rx(pattern)):
            out.append(Found("focal_length", float(m[1]), first, last, 1.0, "grammar"))
    return out


def _sizes(text: PromptText) -> list[Found]:
    out = []
    footprint = rf"{N} ?{UNIT}? ?(?:by|x|×|\*) ?{N} ?{UNIT}?(?: (?:footprint|base|plan|plot))?"
    for m, first, last in text.find(_rx(footprint)):
        unit = m[2] or m[4] or "m"
        w, d = metres(float(m[1]), unit), metres(float(m[3]), unit)
        out.append(Found("footprint", (w, d), first, last, 1.0, "grammar"))
    for m, first, last in text.find(_rx(rf"{N} ?(?:- )?{UNIT} (?:- )?(wide|across|long|deep|square)")):
        size = metres(float(m[1]), m[2])
        slot = {"deep": "depth", "square": "footprint"}.get(m[3], "width")
        out.append(Found(slot, (size, size) if slot == "footprint" else size, first, last, 1.0, "grammar"))
    return out


def _heights(text: PromptText) -> list[Found]:
    """Building heights and camera heights: 'a 60 m tower', 'drone 50 m up'."""
    out = []
    camera_up = rf"{N} ?(?:- )?{UNIT} (?:up|above (?:the )?(?:ground|street|road|pavement|city|rooftops)|off the ground"
    camera_up += r"|in the air|overhead|of altitude|altitude)"
    for m, first, last in text.find(_rx(camera_up)):
        out.append(Found("camera_height", metres(float(m[1]), m[2]), first, last, 1.0, "grammar"))
    for m, first, last in text.find(_rx(rf"(?:altitude|height) of {N} ?{UNIT}"), claim=False):
        if _near_camera(text, first):
            text.claim(first, last)
            out.append(Found("camera_height", metres(float(m[1]), m[2]), first, last, 1.0, "grammar"))
    camera_at = (
        rf"(?:(?:at|from) (?:about |around |roughly )?)?{N} ?(?:- )?{UNIT}(?! (?:tall|high|wide|away|back|off|from))"
    )
    for m, first, last in text.find(_rx(camera_at), claim=False):
        if _near_camera(text, first, 4):  # "drone at 120 m", "aerial, 1,000 feet"
            text.claim(first, last)
            out.append(Found("camera_height", metres(float(m[1]), m[2]), first, last, 0.9, "grammar"))
    for pattern in (
        rf"{N} ?(?:- )?{UNIT}(?: - | )(?:tall|high|in height)",
        rf"(?:height|tall|high) (?:of |is |at )?{N} ?{UNIT}",
        rf"{N} ?(?:- )?{UNIT}(?=(?: - | )(?:tall |high )?(?:[a-z]+ ){{0,2}}{BUILDING_WORDS}(?!\S))",
    ):
        for m, first, last in text.find(_rx(pattern), claim=False):
            slot = "camera_height" if _near_camera(text, first) and "(?=" not in pattern else "height"
            text.claim(first, last)
            out.append(Found(slot, metres(float(m[1]), m[2]), first, last, 1.0, "grammar"))
    return out


def _near_camera(text: PromptText, first: int, within: int = 5) -> bool:
    before = [t.text for t in text.tokens[max(0, first - within) : first]]
    while any(w in (";", ".", "!", "?") for w in before):  # only within the sentence
        before = before[1:]
    before = " ".join(before)
    return bool(CAMERA_WORDS.search(before))


def _distance(text: PromptText) -> list[Found]:
    out = []
    for pattern in (
        rf"{N} ?(?:- )?{UNIT} (?:away|back|off|distant|from (?:the |it|its )?\w*)",
        rf"(?:from|at a distance of|distance of|at) (?:about |around |roughly |some )?{N} ?{UNIT}"
        r"(?! (?:tall|high|up|wide))",
    ):
        for m, first, last in text.find(_rx(pattern)):
            out.append(Found("distance", metres(float(m[1]), m[2]), first, last, 1.0, "grammar"))
    words = {"half a mile": 800.0, "a mile": 1600.0, "a kilometre": 1000.0, "a kilometer": 1000.0, "a block": 100.0}
    words |= {"a few blocks": 300.0, "two blocks": 200.0, "a couple of blocks": 200.0, "2 blocks": 200.0}
    for phrase, distance in words.items():
        for _, first, last in text.find(_rx(phrase + r" (?:away|off|back|down the street|from it)")):
            out.append(Found("distance", distance, first, last, 1.0, "grammar"))
    return out


def _storeys(text: PromptText) -> list[Found]:
    out = []
    for m, first, last in text.find(_rx(rf"(top|bottom|first|lower|upper|lowest|last|ground and) {N} {STOREYS}")):
        n = int(float(m[2]))
        if m[1] in ("bottom", "first", "lower", "lowest"):
            out.append(Found("trigger_floors", tuple(range(n)), first, last, 0.9, "grammar"))
    plural = r"(?:floors|storeys|stories|levels|floor count|number of (?:floors|storeys|stories))"
    for m, first, last in text.find(_rx(rf"{plural} ?(?::|=|of|is)? ?{N}")):
        out.append(Found("floors", float(m[1]), first, last, 1.0, "grammar"))  # "floors: 12"
    pattern = rf"{N} ?(?:- )?{STOREYS}(?: (?:tall|high|building|of))?"
    for m, first, last in text.find(_rx(pattern)):
        out.append(Found("floors", float(m[1]), first, last, 1.0, "grammar"))
    for _, first, last in text.find(_rx(rf"(?:single|one) ?(?:- )?{STOREYS}")):
        out.append(Found("floors", 1.0, first, last, 1.0, "grammar"))
    for _, first, last in text.find(_rx(rf"(?:double|two) ?(?:- )?{STOREYS}")):
        out.append(Found("floors", 2.0, first, last, 1.0, "grammar"))
    return out


def read_height_classes(text: PromptText) -> list[Found]:
    out = []
    classes = {
        "low - ?rise|lowrise": "low-rise",
        "mid - ?rise|midrise|medium - ?rise": "mid-rise",
        "high - ?rise|highrise|tower ?blocks?": "high-rise",
        "(?<!clock )(?<!bell )(?<!water )(?<!church )(?<!cooling )(?<!radio )(?<!watch )towers?": "tower",
    }
    for pattern, name in classes.items():
        for _, first, last in text.find(_rx(f"(?:{pattern})")):
            out.append(Found("height_class", name, first, last, 0.8, "keyword"))
    return out


RULES = (_fps, _explicit, _camera_floor, _clock, _trigger_time, _duration, _lens, _sizes, _heights, _distance, _storeys)
