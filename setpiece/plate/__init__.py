"""Plate analysis: the building in the user's street photo.

``load_photo`` reads the photo safely; ``match_camera`` recovers the camera
(line segments, vanishing points, focal length, orientation, horizon, ground
and metric scale); ``find_facade`` gives the target facade, its storeys and a
proxy building; ``projection`` maps the photo onto the proxy; ``clean_plate``
removes the building. ``PlateSection`` holds what the user may say (corners,
storeys, focal length, ...), and what the user says wins.
"""

from setpiece.plate.camera_match import CameraMatch, match_camera
from setpiece.plate.clean import clean_plate
from setpiece.plate.facade import Facade, Proxy, find_facade
from setpiece.plate.photo import Photo, PlateError, PlateWarning, load_photo
from setpiece.plate.projection import Projection, projection
from setpiece.plate.section import CORNERS_FORMAT, PlateSection

__all__ = [
    "CORNERS_FORMAT",
    "CameraMatch",
    "Facade",
    "Photo",
    "PlateError",
    "PlateSection",
    "PlateWarning",
    "Projection",
    "Proxy",
    "clean_plate",
    "find_facade",
    "load_photo",
    "match_camera",
    "projection",
]
