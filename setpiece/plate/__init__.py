"""Plate analysis: the building in the user's street photo.

``load_photo`` reads the photo safely; ``match_camera`` recovers the camera
(line segments, vanishing points, focal length, orientation, horizon, ground
and metric scale); ``find_facade`` gives the target facade, its storeys and a
proxy building; ``projection`` maps the photo onto the proxy; ``clean_plate``
removes the building. ``PlateSection`` holds what the user may say (corners,
storeys, focal length, ...), and what the user says wins.
"""

import importlib

# name -> module; loaded on first use, so `import setpiece.spec` (which needs only
# PlateSection) does not pull in OpenCV and SciPy
_WHERE = {
    "CameraMatch": "camera_match",
    "match_camera": "camera_match",
    "clean_plate": "clean",
    "Facade": "facade",
    "Proxy": "facade",
    "find_facade": "facade",
    "Photo": "photo",
    "PlateError": "photo",
    "PlateWarning": "photo",
    "load_photo": "photo",
    "Projection": "mapping",
    "projection": "mapping",
    "CORNERS_FORMAT": "section",
    "PlateSection": "section",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"setpiece.plate.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'setpiece.plate' has no attribute {name!r}")


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
