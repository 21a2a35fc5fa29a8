"""Diagnostic drawing: segments coloured by vanishing direction, horizon, facade quad, proxy edges."""

from __future__ import annotations

import numpy as np

FAMILY_COLORS = {0: (255, 70, 40), 1: (40, 200, 60), 2: (60, 120, 255), -1: (150, 150, 150)}


def draw_analysis(rgb: np.ndarray, match, proxy_edges: np.ndarray | None = None) -> np.ndarray:
    """The photo with line families (red: along the facade, green: across, blue: vertical), the
    horizon (yellow), the facade quad (white) and projected proxy edges (magenta), if given."""
    import cv2

    out = (rgb.astype(np.float32) * 0.6).astype(np.uint8)
    t = max(1, round(max(rgb.shape[:2]) / 600))
    for seg, fam in zip(match.segments.ends, match.families):
        a, b = tuple(np.round(seg[:2]).astype(int)), tuple(np.round(seg[2:]).astype(int))
        cv2.line(out, a, b, FAMILY_COLORS[int(fam)], t, cv2.LINE_AA)
    a, b, c = match.horizon()
    w = rgb.shape[1]
    if abs(b) > 1e-6:
        p0, p1 = (0, round(-c / b)), (w, round(-(c + a * w) / b))
        cv2.line(out, p0, p1, (255, 230, 0), t, cv2.LINE_AA)
    quad = np.round(match.quad).astype(np.int32)
    cv2.polylines(out, [quad], True, (255, 255, 255), t + 1, cv2.LINE_AA)
    if proxy_edges is not None:
        for e in proxy_edges:
            cv2.line(out, tuple(np.round(e[:2]).astype(int)), tuple(np.round(e[2:]).astype(int)), (255, 0, 255), t)
    return out
