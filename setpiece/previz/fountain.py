"""Fountain 1.1 screenplay parser.

``parse(text)`` never raises: odd input becomes a ``ParseWarning`` with its line
number. ``parse_file(path)`` raises ``ScreenplayError`` only when the file cannot
be read as screenplay text at all (missing, over 4 MiB, binary or control
characters, not UTF-8/16/32, a line of over 20,000 characters, PDF or XML).

Pipeline: boneyard and notes are cut out first (keeping line numbers), then the
title page is read, then the body is split into typed elements. Emphasis
(``*italic*``, ``**bold**``, ``_underline_``, backslash escapes) becomes plain
text plus style spans.
"""

from __future__ import annotations

import bisect
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
class ScriptScene:
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

    def scenes(self) -> list[ScriptScene]:
        """Scenes in order; numbered by their #N# tag or their position.

        A script with content but no heading yields one scene with heading None."""
        scenes: list[ScriptScene] = []
        for el in self.elements:
            if isinstance(el, SceneHeading):
                scenes.append(ScriptScene(el, el.number or str(len(scenes) + 1), []))
            elif scenes:
                scenes[-1].elements.append(el)
        if not scenes and any(isinstance(e, (Action, Dialogue)) for e in self.elements):
            scenes.append(ScriptScene(None, "1", list(self.elements)))
        return scenes


# --------------------------------------------------------------------------- reading


MAX_SCRIPT_BYTES = 4 * 1024 * 1024  # a feature script is ~250 KB; 20,000 short scenes ~2.5 MB
MAX_LINE_CHARS = 20_000  # a long action paragraph is ~2,000
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")  # C0 controls but tab, newlines, form feed


def parse_file(path: str | Path) -> Screenplay:
    """Read and parse a .fountain file; unreadable files raise ScreenplayError."""
    path = Path(path)
    if not path.exists():
        raise ScreenplayError(f"screenplay not found: {path}")
    if not path.is_file():
        raise ScreenplayError(f"screenplay {path} is not a file")
    try:
        size = path.stat().st_size
        if size > MAX_SCRIPT_BYTES:
            raise ScreenplayError(
                f"screenplay {path} is {size / 2**20:.0f} MiB; a screenplay is under {MAX_SCRIPT_BYTES // 2**20} MiB "
                "of text: check the file, or split the script"
            )
        data = path.read_bytes()
    except OSError as err:
        raise ScreenplayError(f"cannot read screenplay {path}: {err.strerror}") from None
    return parse(decode_screenplay(data, str(path)), source=str(path))


def decode_screenplay(data: bytes, source: str) -> str:
    """Bytes to text: UTF-8 (BOM optional), UTF-16 or UTF-32 with BOM; else ScreenplayError.
    Text that is not a screenplay (binary data, control characters, a line of
    megabytes, a PDF or Final Draft XML) is refused with the line and the fix."""
    text = _decode(data, source)
    if m := _CONTROL.search(text):
        line = text.count("\n", 0, m.start()) + 1
        what = "NUL byte" if m.group() == "\x00" else f"control character 0x{ord(m.group()):02x}"
        raise ScreenplayError(
            f"{source}, line {line}: binary data ({what}); this is not a Fountain text file "
            "(save the screenplay as plain text)"
        )
    for number, line in enumerate(re.split(r"\r\n?|\n", text), start=1):
        if len(line) > MAX_LINE_CHARS:
            raise ScreenplayError(
                f"{source}, line {number}: {len(line):,} characters on one line (a screenplay line is under "
                f"{MAX_LINE_CHARS:,}); this does not look like a screenplay: check the file"
            )
    head = text.lstrip()[:16]
    if head.startswith("%PDF"):
        raise ScreenplayError(f"{source}: this is a PDF; export the screenplay as Fountain text")
    if head.startswith("<?xml") or head.startswith("<FinalDraft"):
        raise ScreenplayError(f"{source}: this is XML (Final Draft?); export the screenplay as Fountain text")
    return text


def _decode(data: bytes, source: str) -> str:
    for bom, codec in (
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                raise ScreenplayError(f"{source}: damaged {codec.upper()} text; save it as UTF-8") from None
    if b"\x00" in data[:4096] and _looks_utf16(data[:4096]):
        raise ScreenplayError(f"{source}: UTF-16 text without a byte-order mark; save the screenplay as UTF-8")
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise ScreenplayError(f"{source}, line {line}: binary data (NUL byte); this is not a Fountain text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ScreenplayError(
            f"{source}, line {line}: byte 0x{data[err.start]:02x} is not valid UTF-8; save the screenplay as UTF-8 text"
        ) from None


def _looks_utf16(head: bytes) -> bool:
    """ASCII text in UTF-16: every other byte is NUL."""
    even, odd = head[0::2], head[1::2]
    return len(head) >= 8 and (even.count(0) > 0.9 * len(even) or odd.count(0) > 0.9 * len(odd))


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
    lines, boneyard, stray, unclosed = _scan(text)
    for line, token in unclosed:
        closer, what = ("*/", "boneyard") if token == "/*" else ("]]", "note")
        warnings.append(ParseWarning(line, f"unclosed {what} '{token}' (no matching '{closer}'); kept as text"))
    for line, token in stray:
        warnings.append(ParseWarning(line, f"stray '{token}' without an opening marker"))
    return lines, boneyard


_CLOSER_OF = {"/*": "*/", "[[": "]]"}


def _last_closers(text: str) -> dict[str, int]:
    """Position of the last '*/' and ']]' token: an opener after it can never close."""
    last = {"*/": -1, "]]": -1}
    for m in _CUT_TOKENS.finditer(text):
        if m.group() in last:
            last[m.group()] = m.start()
    return last


def _scan(text: str):
    """One pass over the cut tokens. An opener with no closer after it is kept as
    text (known up front from the last closer's position, so unclosed openers cost
    nothing more: a line of thousands of '[[' takes linear time)."""
    last = _last_closers(text)
    lines: list[_Line] = []
    boneyard: list[tuple[int, str]] = []
    stray: list[tuple[int, str]] = []
    unclosed: list[tuple[int, str]] = []
    buf: list[str] = []
    cut_buf: list[str] = []
    current = _Line("", 1)
    state, opened_line = None, 0
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
        elif state is None and token in _CLOSER_OF and m.start() < last[_CLOSER_OF[token]]:
            state, opened_line, cut_buf = token, line_no, []
            current.cut = True
        elif (state, token) == ("/*", "*/"):
            boneyard.append((opened_line, "".join(cut_buf)))
            state = None
        elif (state, token) == ("[[", "]]"):
            current.notes.append((opened_line, "".join(cut_buf).strip()))
            state = None
        else:
            if state is None and token in _CLOSER_OF:
                unclosed.append((line_no, token))
            elif state is None and token in ("*/", "]]"):
                stray.append((line_no, token))
            (buf if state is None else cut_buf).append(token)
    buf.append(text[pos:])
    current.text = "".join(buf)
    lines.append(current)
    for ln in lines:
        if ln.cut:  # close the gap a removed note leaves mid-sentence
            ln.text = re.sub(r"(?<=\S) {2,}(?=\S)", " ", ln.text)
    return lines, boneyard, stray, unclosed


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
    raw = _EXTENSION.sub("", s)
    if raw != raw.upper() or not any(c.isalpha() for c in raw):
        return False  # emphasis markers hold no letters: no need to parse them to know
    name = _cue_parts(s)[0]
    return name == name.upper() and any(c.isalpha() for c in name) and not name.endswith(":")


# --------------------------------------------------------------------------- emphasis

_ESCAPES = {"\\\\": "\ue000", "\\*": "\ue001", "\\_": "\ue002"}
_UNESCAPE = {"\ue000": "\\", "\ue001": "*", "\ue002": "_"}
_UNESCAPE_TABLE = str.maketrans(_UNESCAPE)
_STYLE_OF = {"bi": {"bold", "italic"}, "b": {"bold"}, "i": {"italic"}, "u": {"underline"}}
_MARKER = {"bi": "***", "b": "**", "i": "*", "u": "_"}


def parse_emphasis(text: str) -> tuple[str, tuple[Span, ...]]:
    """Markers out, spans in. Emphasis never crosses a line break."""
    plain_lines, spans, offset = [], [], 0
    for line in text.split("\n"):
        for old, new in _ESCAPES.items():
            line = line.replace(old, new)
        pieces, length = [], 0
        for chunk, styles in _runs(line, frozenset()):
            chunk = chunk.translate(_UNESCAPE_TABLE)
            if styles and chunk:
                spans.append(Span(offset + length, offset + length + len(chunk), styles))
            pieces.append(chunk)
            length += len(chunk)
        plain_lines.append("".join(pieces))
        offset += length + 1
    return "\n".join(plain_lines), tuple(_merge(spans))


def plain_text(text: str) -> str:
    return parse_emphasis(text)[0]


def _runs(text: str, styles: frozenset[str]) -> list[tuple[str, frozenset[str]]]:
    """Split a line into (text, styles) runs, innermost emphasis first.

    Same matches as the regex ``\\*\\*(?=[^\\s*])(.+?)(?<=[^\\s*])\\*\\*(?!\\*)`` (and its ***, *
    and _ siblings) tried left to right, but each opener looks its closer up in a
    precomputed list instead of rescanning the rest of the line, so a long line full
    of unclosed markers takes linear, not quadratic, time. (Nesting stays shallow: an
    opener takes the nearest closer of its kind, so no kind repeats inside itself.)"""
    markers = [m.start() for m in _MARKERS.finditer(text)]
    if len(markers) < 2:
        return [(text, styles)]
    closers = {kind: [m.start() for m in pattern.finditer(text)] for kind, pattern in _CLOSERS.items()}
    runs, pos = [], 0
    for start in markers:
        if start < pos:
            continue
        found = _emphasis_at(text, start, closers)
        if found is None:
            continue
        kind, end = found
        size = len(_MARKER[kind])
        runs.append((text[pos:start], styles))
        inner, inner_styles = text[start + size : end], styles | _STYLE_OF[kind]
        if len(inner) >= 3 and ("*" in inner or "_" in inner):  # room for "*a*"
            runs.extend(_runs(inner, inner_styles))
        else:
            runs.append((inner, inner_styles))
        pos = end + size
    runs.append((text[pos:], styles))
    return runs


_MARKERS = re.compile(r"[*_]")
_CLOSERS = {  # where each kind may close: after a solid character
    "bi": re.compile(r"(?<=[^\s*])\*\*\*"),
    "b": re.compile(r"(?<=[^\s*])\*\*(?!\*)"),
    "i": re.compile(r"(?<=[^\s*])\*(?!\*)"),
    "u": re.compile(r"(?<=[^\s_])_"),
}


def _emphasis_at(text: str, s: int, closers: dict[str, list[int]]) -> tuple[str, int] | None:
    """(kind, closer position) of the emphasis opening at s, trying ***, **, *, _ in turn."""
    for kind in ("u",) if text[s] == "_" else ("bi", "b", "i"):
        marker = _MARKER[kind]
        if not text.startswith(marker, s):
            continue
        first = text[s + len(marker) : s + len(marker) + 1]
        if not first or first.isspace() or (kind != "bi" and first == marker[0]):
            continue
        positions = closers[kind]
        k = bisect.bisect_left(positions, s + len(marker) + 1)
        if k < len(positions):
            return kind, positions[k]
    return None


def _merge(spans: list[Span]) -> list[Span]:
    """Join touching spans with the same styles."""
    out: list[Span] = []
    for sp in spans:
        if out and out[-1].end == sp.start and out[-1].styles == sp.styles:
            out[-1] = Span(out[-1].start, sp.end, sp.styles)
        else:
            out.append(sp)
    return out
