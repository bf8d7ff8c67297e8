"""Card Markdown as an EHR shows it, made safe: every character of the text is escaped first, then only the few
constructs cards use become markup (paragraphs, ``-`` lists, ``**bold**``, ``*italic*``, ``code`` and links to
http(s) addresses). No HTML written in a card, nor any other link scheme, ever reaches the page as markup.
A backslash before punctuation shows that character as itself, as in CommonMark: the cards escape EHR text so."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
_CODE = re.compile(r"`([^`\n]+)`")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_HELD = re.compile("\x00(\\d+)\x00")
_NUL = re.compile("\x00")
"""NUL marks a held character, so any in the text itself is dropped first."""


def render(text: str) -> Markup:
    r"""Safe HTML for CommonMark-flavoured card text (CDS Hooks ``detail`` is GitHub-flavoured Markdown).

    >>> str(render('**Avoid** <script>x</script> [label](javascript:alert(1))'))
    '<p><strong>Avoid</strong> &lt;script&gt;x&lt;/script&gt; [label](javascript:alert(1))</p>'
    >>> str(render('- [ok](https://a.org/x?a=1&b=2)'))
    '<ul><li><a href="https://a.org/x?a=1&amp;b=2" rel="noopener noreferrer">ok</a></li></ul>'
    >>> str(render(r'alprazolam 0\.5 MG \*\*not bold\*\* \<b\>'))
    '<p>alprazolam 0.5 MG **not bold** &lt;b&gt;</p>'
    """
    blocks = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        if lines and all(line.lstrip().startswith(("- ", "* ")) for line in lines):
            items = "".join(f"<li>{_inline(line.lstrip()[2:])}</li>" for line in lines)
            blocks.append(f"<ul>{items}</ul>")
        elif block.strip():
            blocks.append(f"<p>{'<br>'.join(_inline(line) for line in lines)}</p>")
    return Markup("".join(blocks))


def _inline(text: str) -> str:
    """One line: backslash-escaped characters held out of the markup until the end, when each is put back as
    itself; then escaped, with code spans kept apart so that nothing inside them becomes markup."""
    held: list[str] = []

    def hold(match: re.Match[str]) -> str:
        held.append(match[1])
        return f"\x00{len(held) - 1}\x00"

    parts = _CODE.split(_ESCAPED.sub(hold, _NUL.sub("", text)))
    out = []
    for number, part in enumerate(parts):
        if number % 2:
            out.append(f"<code>{escape(part)}</code>")
            continue
        html = str(escape(part))
        html = _LINK.sub(lambda m: f'<a href="{m[2]}" rel="noopener noreferrer">{m[1]}</a>', html)
        html = _BOLD.sub(r"<strong>\1</strong>", html)
        out.append(_ITALIC.sub(r"<em>\1</em>", html))
    return _HELD.sub(lambda m: str(escape(held[int(m[1])])), "".join(out))
