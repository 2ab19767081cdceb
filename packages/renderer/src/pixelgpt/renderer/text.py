"""Input checks and normalisation, one character for one character (so offsets stay those of the input).

- Tab, \\v and \\f always become spaces; with newline="space" so do \\n \\r U+0085 U+2028 U+2029.
- Lone surrogates and the other C0/C1 control characters (NUL included) raise ValueError naming the first one.
- Combining marks beyond the 30th in a row (Unicode's stream-safe limit) become U+200B ZERO WIDTH SPACE:
  shaping one base with thousands of marks is quadratic (60,000 marks: 16 s), and such floods show nothing.
- In newline="keep" mode \\r U+0085 U+2028 U+2029 become \\n, which Pango draws as a return-arrow glyph.
- Characters past `max_chars(config)` are not laid out: with at least 1 px per visible character they could
  only land beyond the strip (which clips them anyway); they get empty patch ranges at the end of the text.
"""

from __future__ import annotations

import re
import unicodedata

_BAD_CHARS = "\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff"
_BAD = re.compile(f"[{_BAD_CHARS}]")
_LINE = "\n\r\x0b\x0c\x85\u2028\u2029"
_ALWAYS = "\t\x0b\x0c"
_KEEP_NL = "\r\x85\u2028\u2029"
_TO_SPACE = {
    "space": str.maketrans(dict.fromkeys(_ALWAYS + _LINE, " ")),
    "keep": str.maketrans(dict.fromkeys(_ALWAYS, " ") | dict.fromkeys(_KEEP_NL, "\n")),
}
MAX_MARKS = 30
# Marks are neither \w nor \s in Python's re, so every run of more than MAX_MARKS marks lies inside a match.
_FLOOD_CANDIDATE = re.compile(rf"[^\w\s\x00-\x7f]{{{MAX_MARKS + 1},}}")
_CHANGED = {"space": _ALWAYS + _LINE, "keep": _ALWAYS + _KEEP_NL}  # characters drawable_text() replaces
_EITHER = {k: re.compile(f"[{_BAD_CHARS}{v}]") for k, v in _CHANGED.items()}  # one scan for bad or changed


def max_chars(width_px: int) -> int:
    """How many characters of a text are laid out at most (4 per pixel of strip)."""
    return 4 * width_px


def drawable_text(text: str, newline: str, limit: int) -> str:
    """The text as the renderer draws it: checked, its newlines and other spacing mapped as configured, cut
    to `limit` characters."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    if _EITHER[newline].search(text):
        m = _BAD.search(text)
        if m:
            c = m.group()
            kind = "a lone surrogate" if "\ud800" <= c <= "\udfff" else "a control character"
            raise ValueError(f"text contains {kind} U+{ord(c):04X} at index {m.start()}")
        text = text[:limit].translate(_TO_SPACE[newline])
    if len(text) > limit:
        text = text[:limit]
    if not text.isascii():
        text = _FLOOD_CANDIDATE.sub(_cap_marks, text)
    return text


def _cap_marks(m: re.Match) -> str:
    out, k = [], 0
    for c in m.group():
        k = k + 1 if unicodedata.category(c)[0] == "M" else 0
        out.append(c if k <= MAX_MARKS else "\u200b")
    return "".join(out)
