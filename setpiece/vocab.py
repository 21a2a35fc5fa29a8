"""Shared vocabulary: the words shots and previz both use, defined once.

- ``MATERIALS``: building materials (density, glue strength, colour).
- ``DUST_COLOR``: the colour of each material's dust.
- ``VFX_CATEGORIES``: destruction beats, each with the words that name it in a
  script, the shot that covers it, the trigger that makes it and how boards draw it.
- ``LIGHT_PRESETS``: time of day and weather as sun and sky (the spec's ``light``
  fields), read by the shot list, the boards and the prompt reader.
- ``SHOT_SIZES``: EWS .. ECU with the framing numbers the boards and sketches use.

Only plain data lives here (no numpy, no I/O), so any module can import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

RGB = tuple[float, float, float]

# =========================================================================== materials


class Material(NamedTuple):
    """A building material. A NamedTuple, so ``density, glue, colour = MATERIALS[m]`` works."""

    density: float  # kg/m3
    glue_strength: float  # N per m2 of bonded contact
    color: RGB  # base albedo, linear Rec.709


MATERIALS: dict[str, Material] = {
    "concrete": Material(2400.0, 2.0e5, (0.42, 0.40, 0.37)),
    "brick": Material(1900.0, 1.2e5, (0.45, 0.22, 0.14)),
    "sandstone": Material(2200.0, 1.5e5, (0.62, 0.52, 0.38)),
}

# Single-scattering albedo (linear RGB) of each material's dust, as the dust renderer
# colours it: pale grey cement and aggregate, reddish-tan fired clay, ochre sand. Kept
# high, as real mineral dust scatters most of the light it intercepts.
DUST_COLOR: dict[str, RGB] = {
    "concrete": (0.86, 0.84, 0.80),
    "brick": (0.84, 0.62, 0.48),
    "sandstone": (0.88, 0.74, 0.50),
}

# =========================================================================== VFX categories


@dataclass(frozen=True)
class VfxCategory:
    """One kind of destruction beat.

    ``pattern`` is a regex source (matched case-insensitively on word boundaries)
    finding the beat in an action line. ``size`` .. ``seconds`` are the shot the
    shot list plans for it; ``trigger`` and ``dust`` what a ShotSpec made from that
    shot uses; ``small``, ``soft`` and ``glow`` how storyboards frame and draw it."""

    name: str
    pattern: str
    size: str  # key of SHOT_SIZES
    angle: str
    lens_mm: float
    move: str
    seconds: float
    trigger: str  # ShotSpec trigger.kind: supports | charges
    dust: float  # ShotSpec dust.amount; 0 turns dust off
    small: bool = False  # a close-up subject: medium shots frame it tighter
    soft: bool = False  # a cloud: drawn with a faint silhouette, no inner lines
    glow: RGB | None = None  # emits light: drawn in this colour, not shaded

    @property
    def regex(self) -> re.Pattern:
        return _compiled(self.pattern)


_REGEX_CACHE: dict[str, re.Pattern] = {}


def _compiled(pattern: str) -> re.Pattern:
    if pattern not in _REGEX_CACHE:
        _REGEX_CACHE[pattern] = re.compile(rf"\b(?:{pattern})\b", re.I)
    return _REGEX_CACHE[pattern]


# In priority order: the first category found on a line leads its VFX shot.
VFX_CATEGORIES: dict[str, VfxCategory] = {
    c.name: c
    for c in (
        VfxCategory(
            "collapse",
            r"collaps\w*|crumbl\w*|cave[sd]? in|caving in|toppl\w*|gives? way|giving way"
            r"|implod\w*|pancak\w*|buckl\w*|comes? down|coming down",
            "EWS",
            "low",
            24.0,
            "static",
            6.0,
            "supports",
            1.0,
        ),
        VfxCategory(
            "explosion",
            r"explod\w*|explosion\w*|blasts?|blasted|detonat(?:es?|ed|ing|ions?)|fireballs?"
            r"|blows? up|blew up|blown up",
            "WS",
            "eye level",
            35.0,
            "handheld",
            4.0,
            "charges",
            1.5,
            soft=True,
            glow=(1.7, 0.6, 0.08),
        ),
        VfxCategory(
            "fire",
            r"(?<!open )(?<!cease )fire(?!\s+(?:extinguisher|escape|alarm|exit|truck|engine"
            r"|fighter|hose|door)s?\b)|flames?|blaze\w*|ablaze|burning|inferno|engulf\w*",
            "MS",
            "eye level",
            50.0,
            "push-in",
            3.0,
            "charges",
            0.0,
            soft=True,
            glow=(1.5, 0.42, 0.05),
        ),
        VfxCategory(
            "glass",
            r"shatter\w*|glass (?:rains|sprays|bursts|explodes|falls)|windows? (?:blow|burst|explode|shatter)\w*",
            "CU",
            "eye level",
            85.0,
            "static",
            2.0,
            "charges",
            0.0,
            small=True,
        ),
        VfxCategory(
            "debris",
            r"debris|rubble|masonry|shrapnel|plaster (?:rains|falls|crumbles)"
            r"|chunks? of (?:concrete|stone|brick|plaster)",
            "MS",
            "low",
            35.0,
            "handheld",
            3.0,
            "supports",
            1.0,
        ),
        VfxCategory(
            "cracks",
            r"crack(?:s|ed|ing)?(?!\s+(?:a|open|up)\b)|fissures?",
            "CU",
            "low",
            85.0,
            "push-in",
            3.0,
            "supports",
            0.5,
            small=True,
        ),
        VfxCategory("dust", r"dust\w*", "WS", "low", 28.0, "handheld", 4.0, "supports", 2.0, soft=True),
        VfxCategory(
            "smoke",
            r"smoke|smoky|smoulder\w*|smolder\w*",
            "WS",
            "eye level",
            35.0,
            "pan",
            3.0,
            "charges",
            2.0,
            soft=True,
        ),
        VfxCategory(
            "sparks",
            r"sparks?|sparking",
            "CU",
            "eye level",
            85.0,
            "static",
            2.0,
            "charges",
            0.0,
            small=True,
            glow=(3.0, 2.0, 0.4),
        ),
        VfxCategory(
            "shake",
            r"shak(?:e|es|ing)(?!\s+(?:his|her|their|its|a|my|your)\s+(?:head|hand)s?\b)"
            r"|shudder\w*|trembl\w*|quak\w*",
            "MS",
            "eye level",
            35.0,
            "handheld",
            2.0,
            "supports",
            0.5,
        ),
    )
}
DEFAULT_VFX = "collapse"  # what an unknown category falls back to

# =========================================================================== light


@dataclass(frozen=True)
class LightPreset:
    """Sun and sky for a time of day or weather, in the units of the spec's ``light``
    section (intensities relative to a clear midday sun of 3.0). Elevations follow a
    mid-latitude summer day; colours the sun's temperature (about 5,500 K at noon,
    3,000 K at golden hour, 2,000 K at the horizon; moonlight drawn blue by convention)."""

    sun_elevation: float  # degrees above the horizon (the spec wants >= 1)
    sun_intensity: float
    sun_color: RGB  # linear Rec.709, brightest channel 1
    sky_intensity: float
    sky_color: RGB  # linear Rec.709

    def spec_fields(self) -> dict:
        """The preset as the spec's ``light`` fields (azimuth is the shot's choice)."""
        return {
            "sun_elevation": self.sun_elevation,
            "sun_intensity": self.sun_intensity,
            "sun_color": self.sun_color,
            "sky_intensity": self.sky_intensity,
            "sky_color": self.sky_color,
        }

    @property
    def sun_rgb(self) -> RGB:
        return tuple(self.sun_intensity * c for c in self.sun_color)

    @property
    def sky_rgb(self) -> RGB:
        return tuple(self.sky_intensity * c for c in self.sky_color)


LIGHT_PRESETS: dict[str, LightPreset] = {
    "dawn": LightPreset(3.0, 1.0, (1.0, 0.60, 0.36), 0.35, (0.50, 0.55, 0.78)),
    "morning": LightPreset(25.0, 2.6, (1.0, 0.90, 0.76), 0.55, (0.55, 0.67, 0.92)),
    "day": LightPreset(50.0, 3.0, (1.0, 0.96, 0.90), 0.6, (0.55, 0.68, 0.90)),
    "noon": LightPreset(65.0, 3.2, (1.0, 0.97, 0.93), 0.6, (0.52, 0.67, 0.93)),
    "afternoon": LightPreset(38.0, 2.9, (1.0, 0.93, 0.84), 0.58, (0.55, 0.67, 0.90)),
    "golden hour": LightPreset(8.0, 1.9, (1.0, 0.72, 0.45), 0.42, (0.58, 0.62, 0.82)),
    "evening": LightPreset(15.0, 2.2, (1.0, 0.80, 0.60), 0.45, (0.55, 0.60, 0.82)),
    "dusk": LightPreset(2.0, 0.5, (1.0, 0.50, 0.28), 0.3, (0.40, 0.42, 0.66)),
    "night": LightPreset(35.0, 0.12, (0.60, 0.70, 1.0), 0.06, (0.10, 0.14, 0.28)),
    "overcast": LightPreset(45.0, 0.4, (0.95, 0.95, 0.95), 1.3, (0.72, 0.74, 0.78)),
    # named by prompts; the weather ones lend their sky when a time of day is named too
    "sunrise": LightPreset(4.0, 1.8, (1.0, 0.65, 0.42), 0.35, (0.6, 0.58, 0.75)),
    "sunset": LightPreset(3.0, 1.6, (1.0, 0.55, 0.32), 0.32, (0.55, 0.45, 0.6)),
    "fog": LightPreset(25.0, 0.3, (0.9, 0.9, 0.9), 1.0, (0.7, 0.72, 0.74)),
    "rain": LightPreset(35.0, 0.25, (0.85, 0.88, 0.92), 0.9, (0.5, 0.53, 0.58)),
    "clear": LightPreset(45.0, 3.2, (1.0, 0.95, 0.88), 0.6, (0.5, 0.66, 0.95)),
}
DEFAULT_LIGHT = "day"

# =========================================================================== shot sizes


@dataclass(frozen=True)
class ShotSize:
    """A shot size and how much it frames.

    ``body`` is the frame's bottom and top as fractions of a person's height (an
    EWS on people is six bodies tall); ``place_m`` and ``room_m`` the frame height
    in metres on a place outside and inside; a prop fills ``prop_times`` its own
    size, never less than ``prop_min_m``; ``sketch_scale`` the frame's share of the
    widest frame in a placeholder sketch."""

    name: str
    label: str
    body: tuple[float, float]
    place_m: float
    room_m: float
    prop_times: float
    prop_min_m: float
    sketch_scale: float


SHOT_SIZES: dict[str, ShotSize] = {
    s.name: s
    for s in (
        ShotSize("EWS", "extreme wide shot", (-0.9, 5.1), 40.0, 3.6, 14.0, 6.0, 1.0),
        ShotSize("WS", "wide shot", (-0.16, 1.30), 14.0, 3.2, 8.0, 3.0, 0.78),
        ShotSize("MS", "medium shot", (0.42, 1.07), 6.0, 2.4, 5.0, 1.5, 0.56),
        ShotSize("MCU", "medium close-up", (0.62, 1.05), 3.0, 1.5, 3.0, 0.8, 0.42),
        ShotSize("CU", "close-up", (0.755, 1.035), 1.6, 0.9, 1.8, 0.5, 0.3),
        ShotSize("ECU", "extreme close-up", (0.875, 0.985), 0.6, 0.4, 1.1, 0.25, 0.18),
    )
}
