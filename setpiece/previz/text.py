"""Text on boards, captions and contact sheets: one font loader and one way to
cut a line to a width, shared by the animatic, the boards and the contact sheet."""

from __future__ import annotations

from PIL import ImageFont

Font = ImageFont.ImageFont | ImageFont.FreeTypeFont


def load_font(size: int) -> Font:
    """Pillow's bundled font at this pixel size (no font file to ship or find)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: fixed bitmap font
        return ImageFont.load_default()


def fit_text(text: str, font: Font, width: int) -> str:
    """Cut text with an ellipsis to fit the width in pixels."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"
