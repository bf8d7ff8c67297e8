"""Text from the EHR made inert for the cards: it may be read as CommonMark (``detail``) or as plain text (summary,
labels), and an EHR may pass either through HTML. Only the knowledge base puts markup or links on a card.

``escape`` keeps what the EHR wrote readable: letters, digits and the punctuation of ordinary clinical text
(``St. John's wort``, ``buprenorphine/naloxone``, ``2 mg (oral)``) pass unchanged; a character that could start
markup, an HTML tag or entity, or a link an autolinker would find is escaped with a backslash, which CommonMark
shows as the character itself. Line breaks and runs of spaces become one space (a line break could start a list,
a heading or a code block), and control and bidirectional-override characters are dropped.
"""

from __future__ import annotations

import re

_ALWAYS = frozenset("\\`*_{}[]<>#+=|~!&$^@:")
"""Characters that start markup or HTML anywhere in a line, or links (``@`` mail, ``:`` schemes), in CommonMark,
GitHub Flavored Markdown and common renderers' extensions."""
_SPACE = re.compile(r"\s+")
_DROPPED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_LIST_START = re.compile(r"\d{1,9}[.)]")
_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_CANDIDATE = re.compile("[" + re.escape("".join(sorted(_ALWAYS | {".", "/"}))) + "]")
"""Where an escape may be needed past the first character: the characters of ``_ALWAYS``, and those of links."""
_ESCAPED_OR_BOLD = re.compile(r"\\([!-/:-@\[-`{-~])|\*\*")
"""A backslash escape of ASCII punctuation (what CommonMark shows as the character itself), or a bold marker."""


def escape(text: str) -> str:
    r"""EHR text as inert inline text.

    >>> escape("St. John's wort 2 mg (oral)")
    "St. John's wort 2 mg (oral)"
    >>> escape("<img src=x> **BOLD** [click](https://evil.example/)")
    '\\<img src\\=x\\> \\*\\*BOLD\\*\\* \\[click\\](https\\:\\/\\/evil\\.example/)'
    >>> escape("line one\n\n# two")
    'line one \\# two'
    """
    text = _one_line(text)
    pieces, start, last = [], 0, len(text) - 1
    if text and text[0] in _PUNCTUATION:
        pieces.append("\\")
    for candidate in _CANDIDATE.finditer(text):
        index = candidate.start()
        char = text[index]
        if index and (char in _ALWAYS or _links(text, index, char, last)):
            pieces += (text[start:index], "\\")
            start = index
    pieces.append(text[start:])
    escaped = "".join(pieces)
    if match := _LIST_START.match(escaped):  # "1. x" or "1) x" would start a list where the text starts a line
        end = match.end() - 1
        escaped = escaped[:end] + "\\" + escaped[end:]
    return escaped


def _one_line(text: str) -> str:
    """The text with control and invisible characters dropped and every run of spaces and line breaks made one
    space. Text that has none of them (``isprintable`` is false for each, the ASCII space aside) is most of it,
    and is only stripped."""
    if text.isprintable() and "  " not in text:
        return text.strip(" ")
    return _SPACE.sub(" ", _DROPPED.sub("", text)).strip()


def _links(text: str, index: int, char: str, last: int) -> bool:
    """A dot inside a word (``evil.example``, ``www.x``) or a doubled slash (``//host``): what autolinkers and
    link-finders read as a web address."""
    if char == ".":
        return 0 < index < last and text[index - 1].isalnum() and text[index + 1].isalnum()
    if char == "/":
        return (index > 0 and text[index - 1] in "/:") or (index < last and text[index + 1] == "/")
    return False


def plain(markdown: str) -> str:
    r"""A card's text as a Markdown renderer shows it, for a reader of plain text (a terminal): each backslash
    escape is the character it escapes, and the cards' bold markers are gone. Inverse of ``escape`` on its text.

    >>> plain(r"**With:** alprazolam 0\.5 MG Oral Tablet \[Xanax\].")
    'With: alprazolam 0.5 MG Oral Tablet [Xanax].'
    >>> plain(escape(r"**BOLD** C:\temp"))
    '**BOLD** C:\\temp'
    """
    return _ESCAPED_OR_BOLD.sub(lambda match: match.group(1) or "", markdown)
