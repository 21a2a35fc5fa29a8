"""The linear-time emphasis parser and boneyard/notes cutter give the same
results as the code they replaced (kept here as references), on any mix of markers."""

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from setpiece.previz.fountain import (
    _CUT_TOKENS,
    _ESCAPES,
    _UNESCAPE,
    ParseWarning,
    Span,
    _cut_boneyard_and_notes,
    _Line,
    _merge,
    parse_emphasis,
)

_REFERENCE = re.compile(
    r"(?P<bi>\*\*\*)(?=\S)(?P<bi_t>.+?)(?<=[^\s*])\*\*\*"
    r"|(?P<b>\*\*)(?=[^\s*])(?P<b_t>.+?)(?<=[^\s*])\*\*(?!\*)"
    r"|(?P<i>\*)(?=[^\s*])(?P<i_t>.+?)(?<=[^\s*])\*(?!\*)"
    r"|(?P<u>_)(?=[^\s_])(?P<u_t>.+?)(?<=[^\s_])_"
)
_STYLE_OF = {"bi": {"bold", "italic"}, "b": {"bold"}, "i": {"italic"}, "u": {"underline"}}


def _reference_runs(text, styles):
    runs, pos = [], 0
    while m := _REFERENCE.search(text, pos):
        runs.append((text[pos : m.start()], styles))
        kind = next(k for k in ("bi", "b", "i", "u") if m.group(k))
        runs.extend(_reference_runs(m.group(f"{kind}_t"), styles | _STYLE_OF[kind]))
        pos = m.end()
    runs.append((text[pos:], styles))
    return runs


def reference_emphasis(text):
    plain_lines, spans, offset = [], [], 0
    for line in text.split("\n"):
        for old, new in _ESCAPES.items():
            line = line.replace(old, new)
        plain = ""
        for chunk, styles in _reference_runs(line, frozenset()):
            chunk = "".join(_UNESCAPE.get(c, c) for c in chunk)
            if styles and chunk:
                spans.append(Span(offset + len(plain), offset + len(plain) + len(chunk), styles))
            plain += chunk
        plain_lines.append(plain)
        offset += len(plain) + 1
    return "\n".join(plain_lines), tuple(_merge(spans))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="**__ a\\\n\t", max_size=40))
def test_emphasis_matches_the_regex_reference(text):
    assert parse_emphasis(text) == reference_emphasis(text)


def test_emphasis_examples():
    assert parse_emphasis("a **bold** and *it* _u_")[0] == "a bold and it u"
    assert parse_emphasis("***both***")[1] == (Span(0, 4, frozenset({"bold", "italic"})),)


# --------------------------------------------------------------------------- boneyard and notes


def reference_cut(text: str, warnings: list[ParseWarning]):
    """The cutter before it became one pass (it rescanned once per unclosed opener)."""
    disabled: set[int] = set()
    while True:
        try:
            lines, boneyard, stray = _reference_scan(text, disabled)
        except _ReferenceUnclosed as err:  # retry with that opener treated as text
            closer, what = ("*/", "boneyard") if err.token == "/*" else ("]]", "note")
            warnings.append(
                ParseWarning(err.line, f"unclosed {what} '{err.token}' (no matching '{closer}'); kept as text")
            )
            disabled.add(err.pos)
            continue
        for line, token in stray:
            warnings.append(ParseWarning(line, f"stray '{token}' without an opening marker"))
        return lines, boneyard


class _ReferenceUnclosed(Exception):
    def __init__(self, pos: int, line: int, token: str):
        super().__init__(token)
        self.pos, self.line, self.token = pos, line, token


def _reference_scan(text: str, disabled: set[int]):
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
        raise _ReferenceUnclosed(opened_at, opened_line, state)
    buf.append(text[pos:])
    current.text = "".join(buf)
    lines.append(current)
    for ln in lines:
        if ln.cut:  # close the gap a removed note leaves mid-sentence
            ln.text = re.sub(r"(?<=\S) {2,}(?=\S)", " ", ln.text)
    return lines, boneyard, stray


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(["/*", "*/", "[[", "]]", "*", "/", "[", "]", "a", " ", "\n"]), max_size=30).map("".join)
)
def test_boneyard_and_notes_match_the_reference(text):
    new_warnings, old_warnings = [], []
    assert _cut_boneyard_and_notes(text, new_warnings) == reference_cut(text, old_warnings)
    assert new_warnings == old_warnings


def test_many_unclosed_openers_take_linear_time():
    import time

    text = "[[ /* " * 20_000
    start = time.perf_counter()
    warnings = []
    _cut_boneyard_and_notes(text, warnings)
    assert time.perf_counter() - start < 2.0
    assert len(warnings) == 40_000
