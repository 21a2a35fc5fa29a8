"""PlateSection: what the user may say about the photo the building stands in.

Every field is optional: the photo analysis finds the facade, storeys and focal
length itself, and any value given here wins over what it finds.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from setpiece.errors import SpecError

Point = tuple[float, float]

CORNERS_FORMAT = (
    "plate.corners = [[x,y],[x,y],[x,y],[x,y]] "
    "(facade corners in photo pixels: top-left, top-right, bottom-right, bottom-left)"
)


class PlateSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    photo: str | None = Field(None, description="street photo whose building collapses")
    corners: tuple[Point, Point, Point, Point] | None = Field(
        None, description="facade corners, photo pixels: top-left, top-right, bottom-right, bottom-left"
    )
    storeys: int | None = Field(None, ge=1, le=100, description="storeys of the facade; found from its windows")
    focal_length: float | None = Field(None, ge=4.0, le=600.0, description="mm on sensor_width; found from lines")
    sensor_width: float = Field(36.0, ge=4.0, le=70.0, description="mm (36 = full-frame equivalent)")
    storey_height: float = Field(3.2, ge=2.2, le=8.0, description="metres per storey: sets the scene's scale")
    facade_height: float | None = Field(None, gt=1.0, le=1000.0, description="metres; a measurement beats storeys")
    facade_width: float | None = Field(None, gt=1.0, le=1000.0, description="metres; a measurement beats storeys")
    depth: float | None = Field(None, ge=3.0, le=120.0, description="proxy building depth, metres")

    @field_validator("corners")
    @classmethod
    def _check_corners(cls, corners):
        if corners is None:
            return corners
        if min(min(p) for p in corners) < 0:
            raise ValueError(f"corners must be non-negative pixel coordinates; {CORNERS_FORMAT}")
        tl, tr, br, bl = corners
        if not (tl[0] < tr[0] and bl[0] < br[0] and tl[1] < bl[1] and tr[1] < br[1]):
            raise ValueError(f"corners are out of order; {CORNERS_FORMAT}")
        if _quad_area(corners) < 64.0:
            raise ValueError("corners enclose almost no area (under 8x8 pixels)")
        return corners

    def check_corners_inside(self, width: int, height: int) -> None:
        """The corners must lie in the photo (checked once its size is known)."""
        if self.corners is None:
            return
        outside = [p for p in self.corners if not (0 <= p[0] <= width and 0 <= p[1] <= height)]
        if outside:
            raise SpecError(
                f"plate.corners: {outside} outside the {width}x{height} photo; give pixels of this photo: "
                f"{CORNERS_FORMAT}"
            )


def _quad_area(points) -> float:
    xs, ys = zip(*points)
    return 0.5 * abs(sum(xs[i] * ys[(i + 1) % 4] - xs[(i + 1) % 4] * ys[i] for i in range(4)))
