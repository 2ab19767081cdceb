"""Document cleaning applied to every document before chunking (documented, deterministic): `clean_document`.

- lone surrogates (possible after JSON "\\udXXX" escapes) become U+FFFD;
- \\r\\n and \\r become \\n;
- C0/C1 control characters other than \\t and \\n (NUL included) and DEL are removed;
- trailing spaces and tabs of every line and whitespace-only lines are removed;
- leading and trailing whitespace of the document is removed.
Indentation and single newlines are kept (they matter for code; the renderer draws a newline as a space).
"""

from __future__ import annotations

import re

_CONTROLS = {c: None for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]}
_TRAILING = re.compile(r"[ \t]+\n")
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_document(text: str) -> str:
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROLS)
    text = _TRAILING.sub("\n", text)
    text = _BLANK_LINES.sub("\n", text)
    return text.strip()
