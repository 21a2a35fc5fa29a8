"""ShotSpec: the one editable description of a shot, stored as TOML.

Every field has a sensible default, so an empty file makes a valid shot.
Invalid values raise SpecError naming the field (e.g. ``building.floors``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from setpiece import tomlio
from setpiece.errors import SpecError
from setpiece.plate.section import PlateSection
from setpiece.vocab import MATERIALS as MATERIALS  # re-exported: world/building.py reads it from here

WORLD_LIMIT = 10_000.0  # metres: a camera further out than this sees nothing of the shot
Coord = Annotated[float, Field(ge=-WORLD_LIMIT, le=WORLD_LIMIT)]
Vec3 = tuple[Coord, Coord, Coord]
Colour = tuple[
    Annotated[float, Field(ge=0.0, le=100.0)],
    Annotated[float, Field(ge=0.0, le=100.0)],
    Annotated[float, Field(ge=0.0, le=100.0)],
]
# shot.name becomes file names (NAME.0001.png, NAME.mp4, NAME.usd) inside the take
SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


class _Section(BaseModel):
    # allow_inf_nan=False: every float anywhere in the spec (tuples included) must be
    # finite; TOML has nan and inf literals, and one NaN in a camera hangs the renderer
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*")
    @classmethod
    def _text_is_unicode(cls, value):
        """Every string must be writable as UTF-8 (the take's spec.toml, file names)."""
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("holds characters that are not valid Unicode text (lone surrogates)") from None
        return value


class ShotSection(_Section):
    name: str = Field("collapse", min_length=1, max_length=64, description="file names of the deliveries")
    frames: int = Field(120, ge=1, le=2400, description="shot length in frames")
    fps: float = Field(24.0, ge=1.0, le=120, description="frames per second (the sims step at 1/fps)")
    seed: int = Field(7, ge=0, le=2**32 - 1, description="one seed drives fracture, sim and fx")

    @field_validator("name")
    @classmethod
    def _safe_file_name(cls, name: str) -> str:
        if not SAFE_NAME.fullmatch(name) or ".." in name:
            raise ValueError(
                f"{name!r} is not a safe file name: use letters, digits, '_', '-' and '.', "
                "not starting with a dot and without '..', e.g. 'collapse_v2'"
            )
        return name


MIN_CLEAR_HEIGHT = 1.5  # m under each slab: room for sill, window and header


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
        self._check_members_fit()
        return self

    def _check_members_fit(self) -> None:
        """Interior columns must clear the walls and each other, and each storey must leave
        room for its windows: overlapping or flat members fracture into overlapping or
        empty pieces that the sim throws apart."""
        for label, extent, bays in zip(("width", "depth"), self.footprint, self.bays):
            bay = extent / bays
            need = max(self.column_size, self.wall_thickness + self.column_size / 2) + 0.1
            if bays > 1 and bay < need:
                raise ValueError(
                    f"bays: {bays} bays across the {extent:g} m {label} are {bay:.2f} m wide, too narrow for "
                    f"{self.column_size:g} m columns and {self.wall_thickness:g} m walls (need {need:.2f} m); "
                    "use fewer bays, a larger footprint or thinner columns"
                )
        clear = self.storey_height - self.slab_thickness
        if clear < MIN_CLEAR_HEIGHT:
            raise ValueError(
                f"slab_thickness: a {self.slab_thickness:g} m slab leaves {clear:.2f} m clear in a "
                f"{self.storey_height:g} m storey; keep at least {MIN_CLEAR_HEIGHT} m (thinner slab or taller storey)"
            )


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
    time: float = Field(0.6, ge=0.0, le=3600.0, description="seconds into the shot (after the last frame: no collapse)")
    floors: tuple[int, ...] = Field((0,), max_length=40, description="floor indices (0 = ground) that are hit")
    side: Literal["all", "left", "right", "front", "back"] = Field(
        "left", description="which part of the floor loses its supports, so the building leans"
    )
    charge_impulse: float = Field(6.0, ge=0.0, le=100.0, description="m/s kick of charges")


class SimSection(_Section):
    substeps: int = Field(8, ge=1, le=64, description="physics steps per frame")
    glue_scale: float = Field(1.0, gt=0.0, le=100.0, description="multiplies the material glue strength")
    friction: float = Field(0.7, ge=0.0, le=2.0)
    restitution: float = Field(0.05, ge=0.0, le=1.0)
    max_speed: float = Field(60.0, gt=0.0, le=1000.0, description="m/s clamp against solver explosions")


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
    sun_color: Colour = (1.0, 0.95, 0.88)
    sky_intensity: float = Field(0.6, ge=0.0, le=100.0)
    sky_color: Colour = Field((0.55, 0.68, 0.9), description="sets the sky's brightness (its colour is physical)")
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
    wind: tuple[float, float, float] = Field(
        (1.5, 0.5, 0.0), description="air flow (m/s, world x y z) that carries the dust away as it thins"
    )
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

    @field_validator("plate", "ocio_config")
    @classmethod
    def _existing_file(cls, value: str | None) -> str | None:
        if value:  # None / "" mean no plate / the built-in config
            _check_file(value)
        return value


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
    otio: bool = Field(True, description="NAME.otio: the take as an editorial clip")


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
    plate: PlateSection = PlateSection()

    @model_validator(mode="after")
    def _check_trigger_floors(self) -> ShotSpec:
        bad = [f for f in self.trigger.floors if not 0 <= f < self.building.floors]
        if bad:
            raise ValueError(f"trigger.floors {bad} outside the building's floors 0..{self.building.floors - 1}")
        return self

    @model_validator(mode="after")
    def _check_camera(self) -> ShotSpec:
        """A camera at its target has no viewing direction (the framing needs one)."""
        c = self.camera
        if c.position is None:
            return self
        # with no target the camera looks where make_camera aims: 40% up the building
        target = c.target or (0.0, 0.0, self.building.floors * self.building.storey_height * 0.4)
        if math.dist(c.position, target) < 0.01:
            raise ValueError(
                f"camera.position {list(c.position)} is at camera.target {list(target)}: "
                "move the camera back from what it looks at"
            )
        return self

    @model_validator(mode="after")
    def _check_dust_memory(self) -> ShotSpec:
        """The dust stage keeps every frame's density grid (float16) in memory: refuse
        what would not fit in half this machine's memory, rather than be killed mid-run."""
        d = self.dust
        if not d.enabled or d.amount == 0:
            return self
        # voxels are cubes along the longest side of the dust box; its height is at most
        # 1.4 / 3.2 of its width (stages/dust.py dust_bounds)
        voxels = d.resolution**2 * math.ceil(d.resolution * 1.4 / 3.2)
        need = 2 * voxels * self.shot.frames
        limit = _physical_memory() // 2
        if need > limit:
            raise ValueError(
                f"dust.resolution {d.resolution} over {self.shot.frames} frames (shot.frames) keeps up to "
                f"{need / 2**30:.1f} GiB of dust in memory, over the {limit / 2**30:.1f} GiB this machine "
                "can spare; lower dust.resolution or shot.frames"
            )
        return self

    def digest(self, *sections: str) -> str:
        """Content hash of the named sections (all if none): the stage cache key."""
        data = self.model_dump(mode="json")
        picked = {k: data[k] for k in (sections or data.keys())}
        return hashlib.sha256(json.dumps(picked, sort_keys=True).encode()).hexdigest()[:16]


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a 16 GiB machine
        return 16 * 2**30


def _check_file(value: str) -> None:
    """Paths in a spec must name existing regular files (not folders, devices or FIFOs)."""
    if "\0" in value:
        raise ValueError("path holds a NUL byte; give the file's real path")
    try:
        exists, regular = Path(value).exists(), Path(value).is_file()
    except OSError as err:  # e.g. a name too long for the filesystem
        raise ValueError(f"cannot use {value!r}: {err.strerror}") from None
    if not exists:
        raise ValueError(f"file not found: {value!r}; give an existing file (a relative path starts at the spec)")
    if not regular:
        raise ValueError(f"{value!r} is not a regular file; give the path of the file itself")


def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"invalid shot spec {source}:"]
    for item in err.errors():
        msg = item["msg"].removeprefix("Value error, ")  # our validators' messages stand alone
        field = ".".join(str(p) for p in item["loc"])
        lines.append(f"  {field}: {msg}" if field else f"  {msg}")  # cross-field checks name their fields
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
    for section, key in (("comp", "plate"), ("comp", "ocio_config"), ("plate", "photo")):
        table = data.get(section)  # photos, plates and configs sit next to their spec
        value = table.get(key) if isinstance(table, dict) else None
        if isinstance(value, str) and value and "\0" not in value and not Path(value).is_absolute():
            table[key] = str(path.parent / value)
    return spec_from_dict(data, str(path))


def dump_spec(spec: ShotSpec) -> str:
    """The spec as TOML text (inverse of load_spec); unset (None) fields are left out."""
    return tomlio.dumps(spec.model_dump(mode="json"))


def enough_fragments(data: dict) -> dict:
    """Spec data whose fracture.fragments is at least two per structural member: a
    building sized from words or a photo can outgrow the default count."""
    from setpiece.world.building import make_building

    members = len(make_building(BuildingSection(**data["building"])).elements)
    data["fracture"]["fragments"] = min(20000, max(data["fracture"]["fragments"], 2 * members))
    return data
