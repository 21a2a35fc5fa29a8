"""ShotSpec: the one editable description of a shot, stored as TOML.

Every field has a sensible default, so an empty file makes a valid shot.
Invalid values raise SpecError naming the field (e.g. ``building.floors``).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from setpiece.errors import SpecError

Vec3 = tuple[float, float, float]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ShotSection(_Section):
    name: str = Field("collapse", min_length=1, max_length=64)
    frames: int = Field(120, ge=1, le=2400, description="shot length in frames")
    fps: float = Field(24.0, gt=0, le=120)
    seed: int = Field(7, ge=0, description="one seed drives fracture, sim and fx")


MATERIALS = {
    # density kg/m3, glue strength (N per m2 of contact), base colour (linear RGB)
    "concrete": (2400.0, 2.0e5, (0.42, 0.40, 0.37)),
    "brick": (1900.0, 1.2e5, (0.45, 0.22, 0.14)),
    "sandstone": (2200.0, 1.5e5, (0.62, 0.52, 0.38)),
}


class BuildingSection(_Section):
    floors: int = Field(6, ge=1, le=40)
    footprint: tuple[float, float] = Field((12.0, 9.0), description="width x depth, metres")
    storey_height: float = Field(3.2, ge=2.2, le=8.0)
    bays: tuple[int, int] = Field((3, 2), description="column bays along width and depth")
    window_ratio: float = Field(0.45, ge=0.0, le=0.8, description="share of each facade bay that is window")
    slab_thickness: float = Field(0.3, ge=0.1, le=1.0)
    wall_thickness: float = Field(0.25, ge=0.1, le=1.0)
    column_size: float = Field(0.5, ge=0.2, le=1.5)
    material: Literal["concrete", "brick", "sandstone"] = "concrete"

    @model_validator(mode="after")
    def _check_sizes(self) -> BuildingSection:
        for label, value in zip(("width", "depth"), self.footprint):
            if not 3.0 <= value <= 120.0:
                raise ValueError(f"footprint {label} must be between 3 and 120 m, got {value}")
        if min(self.bays) < 1 or max(self.bays) > 12:
            raise ValueError(f"bays must be between 1 and 12 each, got {self.bays}")
        return self


class FractureSection(_Section):
    fragments: int = Field(600, ge=8, le=20000, description="total Voronoi fragments")
    cluster_size: int = Field(12, ge=1, le=200, description="fragments glued per compound body")


class TriggerSection(_Section):
    kind: Literal["supports", "charges"] = "supports"
    mode: Literal["implode", "topple", "partial"] = Field(
        "implode",
        description="implode: falls into its own footprint; topple: leans toward `side` and falls; "
        "partial: one side or corner fails, the rest stands",
    )
    time: float = Field(0.6, ge=0.0, description="seconds into the shot")
    floors: tuple[int, ...] = Field((0,), description="floor indices (0 = ground) that are hit")
    side: Literal["all", "left", "right", "front", "back"] = Field(
        "left", description="which part of the floor loses its supports, so the building leans"
    )
    charge_impulse: float = Field(6.0, ge=0.0, le=100.0, description="m/s kick of charges")


class SimSection(_Section):
    substeps: int = Field(8, ge=1, le=64, description="physics steps per frame")
    glue_scale: float = Field(1.0, gt=0.0, le=100.0, description="multiplies the material glue strength")
    friction: float = Field(0.7, ge=0.0, le=2.0)
    restitution: float = Field(0.05, ge=0.0, le=1.0)
    max_speed: float = Field(60.0, gt=0.0, description="m/s clamp against solver explosions")


class CameraSection(_Section):
    position: Vec3 | None = Field(None, description="metres, Z up; None frames the building")
    target: Vec3 | None = None
    focal_length: float = Field(28.0, ge=8.0, le=300.0, description="mm")
    sensor_width: float = Field(36.0, ge=4.0, le=70.0, description="mm")
    shake: float = Field(0.0, ge=0.0, le=5.0, description="camera shake from the impacts (0 = locked off, 1 = natural)")
    fstop: float = Field(0.0, ge=0.0, le=64.0, description="depth of field at this f-number (0 = all sharp)")
    focus_distance: float | None = Field(None, gt=0.0, description="metres; None focuses on the target")


class LightSection(_Section):
    sun_elevation: float = Field(35.0, ge=1.0, le=90.0, description="degrees above horizon")
    sun_azimuth: float = Field(220.0, ge=0.0, lt=360.0, description="degrees, 0 = +Y, clockwise")
    sun_intensity: float = Field(3.0, ge=0.0, le=100.0)
    sun_color: Vec3 = (1.0, 0.95, 0.88)
    sky_intensity: float = Field(0.6, ge=0.0, le=100.0)
    sky_color: Vec3 = Field((0.55, 0.68, 0.9), description="sets the sky's brightness (its colour is physical)")
    turbidity: float = Field(3.0, ge=1.7, le=10.0, description="haze of the physical sky (2 clear, 6 hazy)")


class EnvironmentSection(_Section):
    kind: Literal["street", "open_lot", "none"] = Field(
        "street", description="street: road, kerbs, pavements; open_lot: bare asphalt; none: a plain ground"
    )
    neighbours: bool = Field(True, description="neighbouring buildings along the street (kind = street)")


class DustSection(_Section):
    enabled: bool = True
    resolution: int = Field(64, ge=8, le=512, description="voxels along the longest axis")
    amount: float = Field(1.0, ge=0.0, le=20.0)
    path_traced: bool = Field(
        False,
        description="final backend: dust as a Mitsuba heterogeneous medium "
        "(slow on CPU) instead of the ray-marched layer",
    )


class CompSection(_Section):
    plate: str | None = Field(None, description="background photo; the ground becomes a shadow catcher")
    exposure: float = Field(0.0, ge=-10.0, le=10.0, description="stops, before the display transform")
    ocio_config: str = Field("", description="OCIO config file; empty uses OCIO's built-in ACES CG config")
    display: str = "sRGB - Display"
    view: str = "ACES 2.0 - SDR 100 nits (Rec.709)"
    grain: float = Field(0.3, ge=0.0, le=2.0, description="film grain strength (0 = none)")
    motion_blur: float = Field(0.5, ge=0.0, le=1.0, description="shutter as a share of the frame (0.5 = 180 deg)")
    shadow_strength: float = Field(0.75, ge=0.0, le=1.0, description="how dark the caught shadow makes the plate")


class DebrisSection(_Section):
    enabled: bool = True
    count: int = Field(1500, ge=0, le=100000, description="fine chunks thrown from breaks and impacts")
    size: float = Field(0.35, gt=0.01, le=2.0, description="largest chunk, metres")


class RenderSection(_Section):
    backend: Literal["preview", "final"] = "preview"
    width: int = Field(640, ge=16, le=8192)
    height: int = Field(360, ge=16, le=8192)
    spp: int = Field(4, ge=1, le=4096, description="final backend samples per pixel (denoised with albedo, normals)")
    denoise: bool = True
    device: Literal["auto", "cpu", "cuda"] = "auto"


class OutputSection(_Section):
    png: bool = True
    exr: bool = True
    mp4: bool = True
    usd: bool = True
    vdb: bool = True


class ShotSpec(_Section):
    shot: ShotSection = ShotSection()
    building: BuildingSection = BuildingSection()
    fracture: FractureSection = FractureSection()
    trigger: TriggerSection = TriggerSection()
    sim: SimSection = SimSection()
    camera: CameraSection = CameraSection()
    light: LightSection = LightSection()
    environment: EnvironmentSection = EnvironmentSection()
    dust: DustSection = DustSection()
    debris: DebrisSection = DebrisSection()
    render: RenderSection = RenderSection()
    comp: CompSection = CompSection()
    output: OutputSection = OutputSection()

    @model_validator(mode="after")
    def _check_trigger_floors(self) -> ShotSpec:
        bad = [f for f in self.trigger.floors if not 0 <= f < self.building.floors]
        if bad:
            raise ValueError(f"trigger.floors {bad} outside the building's floors 0..{self.building.floors - 1}")
        return self

    def digest(self, *sections: str) -> str:
        """Content hash of the named sections (all if none): the stage cache key."""
        data = self.model_dump(mode="json")
        picked = {k: data[k] for k in (sections or data.keys())}
        return hashlib.sha256(json.dumps(picked, sort_keys=True).encode()).hexdigest()[:16]


def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"invalid shot spec {source}:"]
    for item in err.errors():
        field = ".".join(str(p) for p in item["loc"]) or "(top level)"
        lines.append(f"  {field}: {item['msg']}")
    return "\n".join(lines)


def spec_from_dict(data: dict, source: str = "(dict)") -> ShotSpec:
    try:
        return ShotSpec.model_validate(data)
    except ValidationError as err:
        raise SpecError(_format_errors(err, source)) from None


def load_spec(path: str | Path) -> ShotSpec:
    """Read a TOML spec; every problem becomes a SpecError naming file and field."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"spec file not found: {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SpecError(f"spec {path} is not valid TOML: {err}") from None
    plate = data.get("comp", {}).get("plate") if isinstance(data.get("comp"), dict) else None
    if isinstance(plate, str) and plate and not Path(plate).is_absolute():
        data["comp"]["plate"] = str(path.parent / plate)  # plates sit next to their spec
    return spec_from_dict(data, str(path))


def dump_spec(spec: ShotSpec) -> str:
    """The spec as TOML text (inverse of load_spec)."""
    out: list[str] = []
    for section, values in spec.model_dump(mode="json").items():
        out.append(f"[{section}]")
        for key, value in values.items():
            if value is not None:
                out.append(f"{key} = {_toml_value(value)}")
        out.append("")
    return "\n".join(out)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    return "[" + ", ".join(_toml_value(v) for v in value) + "]"
