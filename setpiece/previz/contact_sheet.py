"""Contact sheet: every board with its shot number, setup, length and action.

Two forms of the same sheet, written into the take folder:

- ``contact_sheet.html``: self-contained (inline CSS, no scripts), boards linked
  by paths relative to the sheet, so the take folder can be moved or zipped;
  grouped by scene under the scene heading.
- ``contact_sheet.pdf``: A4 landscape pages of 3 x 3 boards drawn with Pillow,
  for printing or mailing (the boards are embedded).
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

from PIL import Image, ImageDraw

from setpiece.errors import InputError, OutputError
from setpiece.previz.animatic import open_board
from setpiece.previz.breakdown import SceneBreakdown
from setpiece.previz.shotlist import Shot
from setpiece.previz.text import fit_text, load_font

PAGE = (1754, 1240)  # A4 landscape at 150 dpi
DPI = 150
COLUMNS, ROWS = 3, 3
MARGIN = 60
INK = (25, 25, 28)
MUTED = (105, 105, 112)


def write_contact_sheet(
    folder: str | Path,
    boards: list[Path],
    shots: list[Shot],
    scenes: list[SceneBreakdown] = (),
    title: str = "",
    pdf: bool = True,
    name: str = "contact_sheet",
) -> dict[str, Path]:
    """Write ``name.html`` (and ``name.pdf``) into folder; return them by file name."""
    if len(boards) != len(shots):
        raise InputError(f"contact sheet needs one board per shot: got {len(boards)} boards for {len(shots)} shots")
    folder = Path(folder)
    title = _plain(title) or "Storyboards"
    out = {}
    try:
        page = folder / f"{name}.html"
        page.write_text(contact_sheet_html(boards, shots, scenes, title, folder), encoding="utf-8")
        out[page.name] = page
        if pdf and shots:
            path = folder / f"{name}.pdf"
            _write_pdf(path, boards, shots, scenes, title)
            out[path.name] = path
    except OSError as err:
        raise OutputError(f"cannot write contact sheet into {folder}: {err}") from None
    return out


# --------------------------------------------------------------------------- HTML

_CSS = """
body { font: 14px/1.35 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px;
       color: #19191c; background: #f4f4f2; }
h1 { font-size: 22px; margin: 0 0 4px; }
.meta { color: #66666d; margin: 0 0 18px; }
h2 { font-size: 15px; margin: 26px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #ccc; }
h2 .pages { color: #66666d; font-weight: normal; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 14px; }
figure { margin: 0; background: #fff; border: 1px solid #d6d6d2; border-radius: 4px;
         overflow: hidden; }
figure img { display: block; width: 100%; height: auto; background: #5c5c60; }
figcaption { padding: 8px 10px 10px; }
.head { display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; }
.num { font-weight: 700; font-size: 16px; }
.setup { color: #3a3a40; }
.dur { margin-left: auto; color: #66666d; font-variant-numeric: tabular-nums; }
.action { margin: 6px 0 0; }
.who { margin: 4px 0 0; color: #66666d; font-size: 12px; }
@media print { body { background: #fff; margin: 0; } figure { break-inside: avoid; } }
"""


def contact_sheet_html(
    boards: list[Path], shots: list[Shot], scenes: list[SceneBreakdown], title: str, folder: Path
) -> str:
    """The sheet as one HTML page; board paths are made relative to folder."""
    esc = html.escape
    headings = {s.number: s for s in scenes}
    total = sum(s.duration_s for s in shots)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{esc(title)} - contact sheet</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="meta">{len(shots)} shots, {_duration(total)} '
        f"in {len(dict.fromkeys(s.scene for s in shots))} scenes</p>",
    ]
    scene = None
    for board, shot in zip(boards, shots):
        if shot.scene != scene:
            if scene is not None:
                out.append("</div>")
            scene = shot.scene
            info = headings.get(scene)
            heading = info.heading if info else ""
            pages = f' <span class="pages">({info.pages} pg)</span>' if info else ""
            out.append(
                f'<h2 id="scene-{esc(scene)}">Scene {esc(scene)}{" - " + esc(heading) if heading else ""}{pages}</h2>'
            )
            out.append('<div class="grid">')
        src = Path(os.path.relpath(board, folder)).as_posix()
        who = f'<p class="who">{esc(", ".join(c.title() for c in shot.characters))}</p>' if shot.characters else ""
        out.append(
            f'<figure id="shot-{esc(shot.number)}">'
            f'<a href="{esc(src)}"><img src="{esc(src)}" alt="Shot {esc(shot.number)}" '
            f'loading="lazy"></a>'
            f'<figcaption><div class="head"><span class="num">{esc(shot.number)}</span>'
            f'<span class="setup">{esc(_setup(shot))}</span>'
            f'<span class="dur">{_duration(shot.duration_s)}</span></div>'
            f'<p class="action">{esc(shot.description) or "&nbsp;"}</p>{who}</figcaption></figure>'
        )
    if scene is not None:
        out.append("</div>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def _setup(shot: Shot, kind: bool = True) -> str:
    return " · ".join([shot.size, shot.angle, f"{shot.lens_mm:g}mm", shot.move] + ([shot.kind] if kind else []))


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g}s"
    m, s = divmod(round(seconds), 60)
    return f"{m}:{s:02d}"


def _plain(text: str) -> str:
    """Title-page text without Fountain emphasis markers."""
    return re.sub(r"[*_]+", "", text or "").strip()


# --------------------------------------------------------------------------- PDF


def _write_pdf(path: Path, boards: list[Path], shots: list[Shot], scenes: list[SceneBreakdown], title: str) -> None:
    per_page = COLUMNS * ROWS
    count = -(-len(shots) // per_page)
    pages = [
        _pdf_page(boards[k : k + per_page], shots[k : k + per_page], title, n + 1, count)
        for n, k in enumerate(range(0, len(shots), per_page))
    ]
    pages[0].save(
        path,
        "PDF",
        save_all=True,
        append_images=pages[1:],
        resolution=DPI,
        title=f"{title} - contact sheet",
        creator="setpiece",
    )


def _pdf_page(boards: list[Path], shots: list[Shot], title: str, number: int, count: int) -> Image.Image:
    page = Image.new("RGB", PAGE, "white")
    draw = ImageDraw.Draw(page)
    big, mid, small = load_font(30), load_font(22), load_font(19)
    draw.text((MARGIN, MARGIN - 14), fit_text(title, big, PAGE[0] // 2), font=big, fill=INK)
    scenes = ", ".join(dict.fromkeys(s.scene for s in shots))
    right = f"scenes {scenes}   page {number}/{count}"
    draw.text((PAGE[0] - MARGIN, MARGIN - 10), right, font=small, fill=MUTED, anchor="ra")
    top = MARGIN + 40
    gap = 34
    cell_w = (PAGE[0] - 2 * MARGIN - (COLUMNS - 1) * gap) // COLUMNS
    cell_h = (PAGE[1] - top - MARGIN - (ROWS - 1) * gap) // ROWS
    for k, (board, shot) in enumerate(zip(boards, shots)):
        x = MARGIN + (k % COLUMNS) * (cell_w + gap)
        y = top + (k // COLUMNS) * (cell_h + gap)
        image = open_board(board)
        img_h = min(cell_h - 96, round(cell_w * image.height / image.width))
        img_w = round(img_h * image.width / image.height)
        x += (cell_w - img_w) // 2
        page.paste(image.resize((img_w, img_h), Image.LANCZOS), (x, y))
        draw.rectangle((x - 1, y - 1, x + img_w, y + img_h), outline=(150, 150, 150))
        ty = y + img_h + 8
        draw.text((x, ty), shot.number, font=mid, fill=INK)
        nx = x + draw.textlength(shot.number, font=mid) + 12
        draw.text((x + img_w, ty + 3), _duration(shot.duration_s), font=small, fill=MUTED, anchor="ra")
        setup = fit_text(_setup(shot, kind=False), small, int(x + img_w - nx - 60))
        draw.text((nx, ty + 3), setup, font=small, fill=(60, 60, 66))
        for n, line in enumerate(_wrap(shot.description, small, img_w, 3)):
            draw.text((x, ty + 32 + n * 22), line, font=small, fill=INK)
    return page


def _wrap(text: str, font, width: int, max_lines: int) -> list[str]:
    """Greedy word wrap to a pixel width; the last line ends with … if text is left."""
    words = text.split()
    lines: list[str] = []
    while words and len(lines) < max_lines:
        line = words.pop(0)
        while words and font.getlength(line + " " + words[0]) <= width:
            line += " " + words.pop(0)
        lines.append(line)
    if words and lines:
        lines[-1] = fit_text(lines[-1] + " " + " ".join(words), font, width)
        if not lines[-1].endswith("…"):
            lines[-1] = fit_text(lines[-1] + "…", font, width)
    return [fit_text(line, font, width) for line in lines]
