"""Prompt text as tokens: numbers in words become values, and regexes run over a
canonical form ("a 12 - storey brick block") whose matches map back to the
user's own words.

Number words are turned into values by text2num (a maintained parser for
numbers written in words); this module only finds where they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from text_to_num import text2num

# a possessive 's is a token of its own, so "the tower's" still reads "tower"
_TOKEN = re.compile(
    r"\d+(?:,\d{3})+(?:\.\d+)?|\d*\.\d+|\d+|['’]s\b|[A-Za-z]+(?:['’](?!s\b)[A-Za-z]+)?|[^\sA-Za-z\d]",
    re.ASCII,  # digits are 0-9: '¹' or '٣' is no number here
)
_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen".split()
_UNITS += "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety".split()
NUMBER_WORDS = frozenset(_UNITS + ["hundred", "thousand"])
_SPECIAL = {("a", "dozen"): 12, ("dozen",): 12, ("half", "a", "dozen"): 6, ("a", "couple", "of"): 2}


@dataclass
class Token:
    text: str  # lower case; a number's digits ("12") for numbers
    start: int  # span in the prompt
    end: int
    value: float | None = None  # numbers only
    used: bool = False

    @property
    def is_word(self) -> bool:
        return self.text[:1].isalnum()


class PromptText:
    """Tokens of a prompt and a canonical string to match grammar rules against."""

    def __init__(self, prompt: str):
        self.prompt = prompt
        tokens = [Token(m[0].lower().replace("’", "'"), m.start(), m.end()) for m in _TOKEN.finditer(prompt)]
        self.tokens = _add_halves(_merge_numbers(tokens))
        self.canon = ""
        self._token_at: list[int] = []  # canonical character -> token index
        for i, token in enumerate(self.tokens):
            if self.canon:
                self.canon += " "
                self._token_at.append(i)
            self.canon += token.text
            self._token_at.extend([i] * len(token.text))

    def words(self, first: int, last: int) -> str:
        """The user's words for tokens first..last (inclusive)."""
        return self.prompt[self.tokens[first].start : self.tokens[last].end]

    def find(self, pattern: re.Pattern, claim: bool = True):
        """Yield (match, first, last) for matches on tokens not used yet; claims them."""
        for match in pattern.finditer(self.canon):
            if match.end() == match.start():
                continue
            first, last = self._token_at[match.start()], self._token_at[match.end() - 1]
            if any(t.used for t in self.tokens[first : last + 1]):
                continue
            if claim:
                self.claim(first, last)
            yield match, first, last

    def claim(self, first: int, last: int) -> None:
        for t in self.tokens[first : last + 1]:
            t.used = True

    def span(self, match: re.Match, group: int) -> tuple[int, int]:
        return self._token_at[match.start(group)], self._token_at[match.end(group) - 1]

    def clauses(self) -> list[list[int]]:
        """Runs of word-token indices between punctuation, for the phrase matcher."""
        out: list[list[int]] = [[]]
        for i, t in enumerate(self.tokens):
            if t.is_word:
                out[-1].append(i)
            elif t.text not in ("-", "'", "'s"):
                out.append([])
        return [c for c in out if c]


def _merge_numbers(tokens: list[Token]) -> list[Token]:
    """Digits get their value; runs of number words ("twenty - two") become one token."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        special = _special_at(tokens, i)
        if special:
            length, value = special
            out.append(_number(tokens[i : i + length], value))
            i += length
            continue
        if t.text[0] in "0123456789" or (t.text[0] == "." and len(t.text) > 1):
            t.value = float(t.text.replace(",", ""))
            t.text = _digits(t.value)
            out.append(t)
            i += 1
            continue
        j = i
        while j < len(tokens) and _continues_number(tokens, i, j):
            j += 1
        while j > i and tokens[j - 1].text in ("and", "-"):
            j -= 1  # a run never ends on a connector
        while j > i:  # the longest run that parses ("one two" -> "one", then "two")
            value = _words_value(tokens[i:j])
            if value is not None:
                out.append(_number(tokens[i:j], value))
                break
            j -= 1
        if j > i:
            i = j
            continue
        out.append(t)
        i += 1
    return out


def _add_halves(tokens: list[Token]) -> list[Token]:
    """'two and a half' -> 2.5."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.value is not None and [x.text for x in tokens[i + 1 : i + 4]] == ["and", "a", "half"]:
            out.append(_number([t, tokens[i + 3]], t.value + 0.5))
            i += 4
            continue
        out.append(t)
        i += 1
    return out


def _continues_number(tokens: list[Token], first: int, j: int) -> bool:
    text = tokens[j].text
    if text in NUMBER_WORDS:
        return True
    if j == first or j + 1 >= len(tokens) or tokens[j + 1].text not in NUMBER_WORDS:
        return False
    # "twenty - two", "one hundred and twenty": a connector between number words
    return (text == "-" and tokens[j - 1].end == tokens[j].start) or (
        text == "and" and tokens[j - 1].text in ("hundred", "thousand")
    )


def _words_value(run: list[Token]) -> float | None:
    words = " ".join(t.text for t in run if t.text != "-")
    try:
        return float(text2num(words, "en"))
    except ValueError:
        return None


def _special_at(tokens: list[Token], i: int) -> tuple[int, float] | None:
    for words, value in _SPECIAL.items():
        if tuple(t.text for t in tokens[i : i + len(words)]) == words:
            if words[0] == "a" and i + len(words) < len(tokens) and tokens[i + len(words)].text in NUMBER_WORDS:
                continue
            return len(words), value
    if tokens[i].text == "a" and i + 1 < len(tokens) and tokens[i + 1].text in ("hundred", "thousand"):
        return 2, 100.0 if tokens[i + 1].text == "hundred" else 1000.0
    return None


def _number(run: list[Token], value: float) -> Token:
    return Token(_digits(value), run[0].start, run[-1].end, value)


def _digits(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)
