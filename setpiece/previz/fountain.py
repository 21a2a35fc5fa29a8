"""Fountain 1.1 screenplay parser.

``parse(text)`` never raises: odd input becomes a ``ParseWarning`` with its line
number. ``parse_file(path)`` raises ``ScreenplayError`` only when the file cannot
be read as text at all (missing, binary, not UTF-8).

Pipeline: boneyard and notes are cut out first (keeping line numbers), then the
title page is read, then the body is split into typed elements. Emphasis
(``*italic*``, ``**bold**``, ``_underline_``, backslash escapes) becomes plain
text plus style spans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from setpiece.errors import ScreenplayError

# --------------------------------------------------------------------------- elements


@dataclass(frozen=True)
class Span:
    """Styled run of an element's plain text: ``text[start:end]``."""

    start: int
    end: int
    styles: frozenset[str]  # subset of {"bold", "italic", "underline"}


@dataclass(frozen=True)
class ParseWarning:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(kw_only=True)
class Element:
    """One screenplay element. ``text`` is plain (emphasis markers removed)."""

    kind: ClassVar[str] = "element"
    line: int
    text: str = ""
    spans: tuple[Span, ...] = ()
    notes: tuple[str, ...] = ()  # inline [[notes]] found on this element's lines
    lines: tuple[int, ...] = ()  # source line of each text line

    def __post_init__(self) -> None:
        if not self.lines:
            self.lines = (self.line,)


@dataclass(kw_only=True)
class SceneHeading(Element):
    kind: ClassVar[str] = "scene_heading"
    number: str | None = None  # from a trailing #1A#
    forced: bool = False


@dataclass(kw_only=True)
class Action(Element):
    kind: ClassVar[str] = "action"
    forced: bool = False


@dataclass(kw_only=True)
class Character(Element):
    kind: ClassVar[str] = "character"
    name: str = ""  # cue without extensions, e.g. "MOM"
    extensions: tuple[str, ...] = ()  # e.g. ("V.O.", "CONT'D")
    dual: bool = False
    forced: bool = False


@dataclass(kw_only=True)
class Parenthetical(Element):
    kind: ClassVar[str] = "parenthetical"


@dataclass(kw_only=True)
class Dialogue(Element):
    kind: ClassVar[str] = "dialogue"


@dataclass(kw_only=True)
class Lyric(Element):
    kind: ClassVar[str] = "lyric"


@dataclass(kw_only=True)
class Transition(Element):
    kind: ClassVar[str] = "transition"
    forced: bool = False


@dataclass(kw_only=True)
class Centered(Element):
    kind: ClassVar[str] = "centered"


@dataclass(kw_only=True)
class Section(Element):
    kind: ClassVar[str] = "section"
    depth: int = 1


@dataclass(kw_only=True)
class Synopsis(Element):
    kind: ClassVar[str] = "synopsis"


@dataclass(kw_only=True)
class Note(Element):
    kind: ClassVar[str] = "note"


@dataclass(kw_only=True)
class PageBreak(Element):
    kind: ClassVar[str] = "page_break"


@dataclass
class Scene:
    """A scene heading and the elements up to the next heading."""

    heading: SceneHeading | None  # None: script without any heading
    number: str
    elements: list[Element]

    @property
    def line(self) -> int:
        if self.heading:
            return self.heading.line
        return self.elements[0].line if self.elements else 1


@dataclass
class Screenplay:
    title_page: dict[str, str]
    elements: list[Element]
    warnings: list[ParseWarning] = field(default_factory=list)
    boneyard: list[tuple[int, str]] = field(default_factory=list)  # (line, text)
    source: str = "(string)"

    @property
    def title(self) -> str:
        for key, value in self.title_page.items():
            if key.lower() == "title":
                return value
        return ""

    def scenes(self) -> list[Scene]:
        """Scenes in order; numbered by their #N# tag or their position.

        A script with content but no heading yields one scene with heading None."""
        scenes: list[Scene] = []
        for el in self.elements:
            if isinstance(el, SceneHeading):
                scenes.append(Scene(el, el.number or str(len(scenes) + 1), []))
            elif scenes:
                scenes[-1].elements.append(el)
        if not scenes and any(isinstance(e, (Action, Dialogue)) for e in self.elements):
            scenes.append(Scene(None, "1", list(self.elements)))
        return scenes


# --------------------------------------------------------------------------- reading


def parse_file(path: str | Path) -> Screenplay:
    """Read and parse a .fountain file; unreadable files raise ScreenplayError."""
    path = Path(path)
    if not path.exists():
        raise ScreenplayError(f"screenplay not found: {path}")
    if not path.is_file():
        raise ScreenplayError(f"screenplay {path} is not a file")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ScreenplayError(f"cannot read screenplay {path}: {err.strerror}") from None
    return parse(decode_screenplay(data, str(path)), source=str(path))


def decode_screenplay(data: bytes, source: str) -> str:
    """Bytes to text: UTF-8 (BOM optional) or UTF-16 with BOM; else ScreenplayError."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ScreenplayError(f"{source}: damaged UTF-16 text; save it as UTF-8") from None
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise ScreenplayError(f"{source}, line {line}: binary data (NUL byte); this is not a Fountain text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ScreenplayError(
            f"{source}, line {line}: byte 0x{data[err.start]:02x} is not valid UTF-8; save the screenplay as UTF-8 text"
        ) from None
    head = text.lstrip()[:16]
    if head.startswith("%PDF"):
        raise ScreenplayError(f"{source}: this is a PDF; export the screenplay as Fountain text")
    if head.startswith("<?xml") or head.startswith("<FinalDraft"):
        raise ScreenplayError(f"{source}: this is XML (Final Draft?); export the screenplay as Fountain text")
    return text


def parse(text: str, source: str = "(string)") -> Screenplay:
    """Parse Fountain text. Never raises; problems become warnings."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    warnings: list[ParseWarning] = []
    lines, boneyard = _cut_boneyard_and_notes(text, warnings)
    title_page, body_start = _title_page(lines, warnings)
    parser = _BodyParser(lines[body_start:], warnings)
    parser.run()
    play = Screenplay(title_page, parser.out, warnings, boneyard, source)
    if not text.strip():
        warnings.append(ParseWarning(1, "the screenplay is empty"))
    elif not any(isinstance(e, SceneHeading) for e in play.elements):
        first = play.elements[0].line if play.elements else 1
        warnings.append(
            ParseWarning(
                first,
                "no scene headings (INT./EXT. or a forced '.HEADING') found; the whole script is treated as one scene",
            )
        )
    warnings.sort(key=lambda w: w.line)
    return play


# --------------------------------------------------------------------------- boneyard and notes


@dataclass
class _Line:
    text: str
    number: int
    notes: list[tuple[int, str]] = field(default_factory=list)
    cut: bool = False  # boneyard or a note was removed from this line

    @property
    def blank(self) -> bool:
        return not self.text.strip() and not self.cut

    @property
    def hollow(self) -> bool:
        """Nothing left but removed boneyard/notes: transparent to the layout."""
        return not self.text.strip() and self.cut


_CUT_TOKENS = re.compile(r"/\*|\*/|\[\[|\]\]|\n")


def _cut_boneyard_and_notes(text: str, warnings: list[ParseWarning]):
    """Split into lines with /* boneyard */ and [[notes]] removed.

    Multi-line cuts join the text before and after onto the line where the cut
    began. An unclosed opener is warned about and kept as plain text."""
    disabled: set[int] = set()
    while True:
        try:
            lines, boneyard, stray = _scan(text, disabled)
        except _Unclosed as err:  # retry with that opener treated as text
            closer, what = ("*/", "boneyard") if err.token == "/*" else ("]]", "note")
            warnings.append(
                ParseWarning(err.line, f"unclosed {what} '{err.token}' (no matching '{closer}'); kept as text")
            )
            disabled.add(err.pos)
            continue
        for line, token in stray:
            warnings.append(ParseWarning(line, f"stray '{token}' without an opening marker"))
        return lines, boneyard


class _Unclosed(Exception):
    def __init__(self, pos: int, line: int, token: str):
        super().__init__(token)
        self.pos, self.line, self.token = pos, line, token


def _scan(text: str, disabled: set[int]):
    lines: list[_Line] = []
    boneyard: list[tuple[int, str]] = []
    stray: list[tuple[int, str]] = []
    buf: list[str] = []
    cut_buf: list[str] = []
    current = _Line("", 1)
    state, opened_at, opened_line = None, 0, 0
    line_no, pos = 1, 0
    for m in _CUT_TOKENS.finditer(text):
        chunk, token = text[pos : m.start()], m.group()
        pos = m.end()
        (buf if state is None else cut_buf).append(chunk)
        if token == "\n":
            if state is None:
                current.text = "".join(buf)
                lines.append(current)
                buf = []
                current = _Line("", line_no + 1)
            else:
                cut_buf.append("\n")
            line_no += 1
        elif state is None and token in ("/*", "[[") and m.start() not in disabled:
            state, opened_at, opened_line, cut_buf = token, m.start(), line_no, []
            current.cut = True
        elif (state, token) == ("/*", "*/"):
            boneyard.append((opened_line, "".join(cut_buf)))
            state = None
        elif (state, token) == ("[[", "]]"):
            current.notes.append((opened_line, "".join(cut_buf).strip()))
            state = None
        else:
            if state is None and token in ("*/", "]]"):
                stray.append((line_no, token))
            (buf if state is None else cut_buf).append(token)
    if state is not None:
        raise _Unclosed(opened_at, opened_line, state)
    buf.append(text[pos:])
    current.text = "".join(buf)
    lines.append(current)
    for ln in lines:
        if ln.cut:  # close the gap a removed note leaves mid-sentence
            ln.text = re.sub(r"(?<=\S) {2,}(?=\S)", " ", ln.text)
    return lines, boneyard, stray


# --------------------------------------------------------------------------- title page

_KNOWN_TITLE_KEYS = {
    "title",
    "credit",
    "author",
    "authors",
    "source",
    "draft date",
    "date",
    "contact",
    "copyright",
    "notes",
    "revision",
    "watermark",
    "font",
}
_TITLE_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9 _-]{0,39}):(.*)$")


def _is_title_key(line: str) -> re.Match | None:
    m = _TITLE_KEY.match(line)
    if not m:
        return None
    key = m.group(1).strip()
    # "FADE IN:" is not a key: keys are known, or written in mixed case
    return m if key.lower() in _KNOWN_TITLE_KEYS or key != key.upper() else None


def _title_page(lines: list[_Line], warnings: list[ParseWarning]) -> tuple[dict[str, str], int]:
    """Key: value pairs at the very start, up to the first blank line."""
    if not lines or not _is_title_key(lines[0].text):
        return {}, 0
    page: dict[str, list[str]] = {}
    key = ""
    i = 0
    while i < len(lines) and not lines[i].blank:
        ln = lines[i]
        m = _is_title_key(ln.text)
        if m:
            key = m.group(1).strip()
            page[key] = [m.group(2).strip()] if m.group(2).strip() else []
        elif ln.text.strip():
            if not ln.text[:1].isspace():
                warnings.append(
                    ParseWarning(ln.number, f"title page line is neither 'Key: value' nor indented; added to '{key}'")
                )
            page[key].append(ln.text.strip())
        i += 1
    return {k: "\n".join(plain_text(v) for v in vals) for k, vals in page.items()}, i


# --------------------------------------------------------------------------- body

_PAGE_BREAK = re.compile(r"^={3,}$")
_CENTERED = re.compile(r"^>\s*(.*?)\s*<$")
_FORCED_HEADING = re.compile(r"^\.(?=\w)")
_HEADING = re.compile(r"^(INT\.?/EXT|EXT\.?/INT|INT/EXT|I/E|E/I|INT|EXT|EST)[.\s]", re.I)
_SCENE_NUMBER = re.compile(r"\s*#([A-Za-z0-9.\-]+)#\s*$")
_EXTENSION = re.compile(r"\(([^()]*)\)")


def _explicit(s: str) -> bool:
    """Lines whose leading marker makes them their own element anywhere."""
    return bool(_PAGE_BREAK.match(s) or s.startswith(("#", "=", "~", ">")) or _FORCED_HEADING.match(s))


class _BodyParser:
    def __init__(self, lines: list[_Line], warnings: list[ParseWarning]):
        self.lines = lines
        self.warnings = warnings
        self.out: list[Element] = []

    def warn(self, line: int, message: str) -> None:
        self.warnings.append(ParseWarning(line, message))

    def run(self) -> None:
        i, block_start = 0, True
        while i < len(self.lines):
            ln = self.lines[i]
            if ln.hollow:
                self._emit_notes(ln)
                i += 1
            elif ln.blank:
                block_start = True
                i += 1
            else:
                i, block_start = self._element(i, block_start)

    # -- helpers

    def _next_content(self, i: int) -> _Line | None:
        """The next line after i that is not hollow (None at the end)."""
        for j in range(i + 1, len(self.lines)):
            if not self.lines[j].hollow:
                return self.lines[j]
        return None

    def _followed_by_blank(self, i: int) -> bool:
        nxt = self._next_content(i)
        return nxt is None or nxt.blank

    def _emit_notes(self, ln: _Line) -> None:
        for line, text in ln.notes:
            self.out.append(Note(line=line, text=text))

    def _add(self, cls, ln: _Line, raw: str, **extra) -> Element:
        text, spans = parse_emphasis(raw)
        el = cls(line=ln.number, text=text, spans=spans, notes=tuple(t for _, t in ln.notes), **extra)
        self.out.append(el)
        return el

    # -- dispatch

    def _element(self, i: int, block_start: bool) -> tuple[int, bool]:
        """Parse the element starting at line i; return (next line, block_start)."""
        ln = self.lines[i]
        s = ln.text.strip()
        if _PAGE_BREAK.match(s):
            self._add(PageBreak, ln, "")
            return i + 1, True
        if s.startswith("#"):
            depth = len(s) - len(s.lstrip("#"))
            self._add(Section, ln, s[depth:].strip(), depth=depth)
            return i + 1, True
        if s.startswith("="):
            self._add(Synopsis, ln, s[1:].strip())
            return i + 1, True
        if s.startswith("~"):
            self._add(Lyric, ln, s[1:].strip())
            return i + 1, False
        if m := _CENTERED.match(s):
            self._add(Centered, ln, m.group(1))
            return i + 1, False
        if s.startswith(">"):
            self._add(Transition, ln, s[1:].strip(), forced=True)
            return i + 1, True
        if s.startswith("!"):
            return self._action(i), False
        if s.startswith("@") and _cue_parts(s[1:])[0]:
            return self._dialogue_block(i, s[1:].strip(), forced=True), False
        if _FORCED_HEADING.match(s):
            self._heading(ln, s[1:], forced=True)
            return i + 1, True
        if block_start:
            return self._block_start(i, s)
        return self._action(i), False

    def _block_start(self, i: int, s: str) -> tuple[int, bool]:
        """Elements that need a blank line before them."""
        ln = self.lines[i]
        if _HEADING.match(s):
            if not self._followed_by_blank(i):
                self.warn(ln.number, "scene heading is not followed by a blank line")
            self._heading(ln, s, forced=False)
            return i + 1, True
        if s.endswith("TO:") and s == s.upper() and self._followed_by_blank(i):
            self._add(Transition, ln, s)
            return i + 1, True
        if _is_cue(s) and not self._followed_by_blank(i):
            return self._dialogue_block(i, s, forced=False), False
        if s.startswith("(") and s.endswith(")") and not self._followed_by_blank(i):
            self.warn(
                ln.number,
                "parenthetical without a character cue above it; treated as action (add the character name in CAPS)",
            )
        return self._action(i), False

    # -- element kinds

    def _heading(self, ln: _Line, s: str, forced: bool) -> None:
        number = None
        if m := _SCENE_NUMBER.search(s):
            number, s = m.group(1), s[: m.start()]
        self._add(SceneHeading, ln, s.strip(), number=number, forced=forced)

    def _action(self, i: int) -> int:
        """Consume action lines until a blank line or an explicit element."""
        first = self.lines[i]
        forced = first.text.lstrip().startswith("!")
        texts, numbers, notes, hollow = [], [], [], []
        j = i
        while j < len(self.lines):
            ln = self.lines[j]
            if ln.hollow:
                hollow.append(ln)
                j += 1
                continue
            if ln.blank or (j > i and _explicit(ln.text.strip())):
                break
            raw = ln.text.replace("\t", "    ").rstrip()
            if raw.lstrip().startswith("!"):
                raw = raw.replace("!", "", 1)
            texts.append(raw)
            numbers.append(ln.number)
            notes.extend(t for _, t in ln.notes)
            j += 1
        text, spans = parse_emphasis("\n".join(texts))
        self.out.append(
            Action(line=first.number, text=text, spans=spans, notes=tuple(notes), lines=tuple(numbers), forced=forced)
        )
        for ln in hollow:
            self._emit_notes(ln)
        return j

    def _dialogue_block(self, i: int, cue: str, forced: bool) -> int:
        """Character cue at line i, then parentheticals, dialogue and lyrics."""
        ln = self.lines[i]
        character = self._character(ln, cue, forced)
        pending: list[_Line] = []  # dialogue lines not yet emitted
        spoken = False

        def flush() -> None:
            while pending and not pending[-1].text.strip():
                pending.pop()  # trailing two-space lines
            if pending:
                raw = "\n".join(p.text.strip() for p in pending)
                text, spans = parse_emphasis(raw)
                self.out.append(
                    Dialogue(
                        line=pending[0].number,
                        text=text,
                        spans=spans,
                        notes=tuple(t for p in pending for _, t in p.notes),
                        lines=tuple(p.number for p in pending),
                    )
                )
            pending.clear()

        j = i + 1
        while j < len(self.lines):
            ln = self.lines[j]
            s = ln.text.strip()
            if ln.hollow:
                flush()
                self._emit_notes(ln)
            elif not s and len(ln.text) >= 2 and pending:
                pending.append(ln)  # "two spaces": a blank line inside dialogue
            elif ln.blank:
                break
            elif s.startswith("(") and s.endswith(")"):
                flush()
                self._add(Parenthetical, ln, s)
            elif s.startswith("~"):
                flush()
                self._add(Lyric, ln, s[1:].strip())
                spoken = True
            else:
                pending.append(ln)
                spoken = True
            j += 1
        flush()
        if not spoken:
            self.warn(character.line, f"character cue '{character.text}' has no dialogue")
        return j

    def _character(self, ln: _Line, cue: str, forced: bool) -> Character:
        name, extensions, dual = _cue_parts(cue)
        el = self._add(Character, ln, cue.removesuffix("^").rstrip(), name=name, extensions=extensions, forced=forced)
        if dual:
            partner = self._previous_cue()
            if partner is None:
                self.warn(
                    ln.number,
                    "dual dialogue '^' has no dialogue right before it to pair with; shown as normal dialogue",
                )
            else:
                partner.dual = el.dual = True
        return el  # type: ignore[return-value]

    def _previous_cue(self) -> Character | None:
        """The cue of the dialogue block just before the one being parsed."""
        for el in self.out[-2::-1]:
            if isinstance(el, Character):
                return el
            if not isinstance(el, (Dialogue, Parenthetical, Lyric, Note)):
                return None
        return None


def _cue_parts(cue: str) -> tuple[str, tuple[str, ...], bool]:
    """'MOM (V.O.) ^' -> ('MOM', ('V.O.',), True)."""
    dual = cue.endswith("^")
    cue = cue.removesuffix("^").rstrip()
    extensions = tuple(e.strip() for e in _EXTENSION.findall(cue))
    return plain_text(_EXTENSION.sub("", cue)).strip(), extensions, dual


def _is_cue(s: str) -> bool:
    """All caps (extensions aside), with a letter, no trailing colon."""
    name = _cue_parts(s)[0]
    return name == name.upper() and any(c.isalpha() for c in name) and not name.endswith(":")


# --------------------------------------------------------------------------- emphasis

_ESCAPES = {"\\\\": "\ue000", "\\*": "\ue001", "\\_": "\ue002"}
_UNESCAPE = {"\ue000": "\\", "\ue001": "*", "\ue002": "_"}
_EMPHASIS = re.compile(
    r"(?P<bi>\*\*\*)(?=\S)(?P<bi_t>.+?)(?<=[^\s*])\*\*\*"
    r"|(?P<b>\*\*)(?=[^\s*])(?P<b_t>.+?)(?<=[^\s*])\*\*(?!\*)"
    r"|(?P<i>\*)(?=[^\s*])(?P<i_t>.+?)(?<=[^\s*])\*(?!\*)"
    r"|(?P<u>_)(?=[^\s_])(?P<u_t>.+?)(?<=[^\s_])_"
)
_STYLE_OF = {"bi": {"bold", "italic"}, "b": {"bold"}, "i": {"italic"}, "u": {"underline"}}


def parse_emphasis(text: str) -> tuple[str, tuple[Span, ...]]:
    """Markers out, spans in. Emphasis never crosses a line break."""
    plain_lines, spans, offset = [], [], 0
    for line in text.split("\n"):
        for old, new in _ESCAPES.items():
            line = line.replace(old, new)
        runs = _runs(line, frozenset())
        plain = ""
        for chunk, styles in runs:
            chunk = "".join(_UNESCAPE.get(c, c) for c in chunk)
            if styles and chunk:
                spans.append(Span(offset + len(plain), offset + len(plain) + len(chunk), styles))
            plain += chunk
        plain_lines.append(plain)
        offset += len(plain) + 1
    return "\n".join(plain_lines), tuple(_merge(spans))


def plain_text(text: str) -> str:
    return parse_emphasis(text)[0]


def _runs(text: str, styles: frozenset[str]) -> list[tuple[str, frozenset[str]]]:
    runs, pos = [], 0
    while m := _EMPHASIS.search(text, pos):
        runs.append((text[pos : m.start()], styles))
        kind = next(k for k in ("bi", "b", "i", "u") if m.group(k))
        runs.extend(_runs(m.group(f"{kind}_t"), styles | _STYLE_OF[kind]))
        pos = m.end()
    runs.append((text[pos:], styles))
    return runs


def _merge(spans: list[Span]) -> list[Span]:
    """Join touching spans with the same styles."""
    out: list[Span] = []
    for sp in spans:
        if out and out[-1].end == sp.start and out[-1].styles == sp.styles:
            out[-1] = Span(out[-1].start, sp.end, sp.styles)
        else:
            out.append(sp)
    return out
