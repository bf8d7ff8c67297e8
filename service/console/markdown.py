"""Card Markdown as an EHR shows it, made safe: every character of the text is escaped first, then only the few
constructs cards use become markup (paragraphs, ``-`` lists, ``**bold**``, ``*italic*``, ``code`` and links to
http(s) addresses). No HTML written in a card, nor any other link scheme, ever reaches the page as markup."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
_CODE = re.compile(r"`([^`\n]+)`")


def render(text: str) -> Markup:
    """Safe HTML for CommonMark-flavoured card text (CDS Hooks ``detail`` is GitHub-flavoured Markdown).

    >>> str(render('**Avoid** <script>x</script> [label](javascript:alert(1))'))
    '<p><strong>Avoid</strong> &lt;script&gt;x&lt;/script&gt; [label](javascript:alert(1))</p>'
    >>> str(render('- [ok](https://a.org/x?a=1&b=2)'))
    '<ul><li><a href="https://a.org/x?a=1&amp;b=2" rel="noopener noreferrer">ok</a></li></ul>'
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
    """One line: escaped, then code spans kept apart so that nothing inside them becomes markup."""
    parts = _CODE.split(text)
    out = []
    for number, part in enumerate(parts):
        if number % 2:
            out.append(f"<code>{escape(part)}</code>")
            continue
        html = str(escape(part))
        html = _LINK.sub(lambda m: f'<a href="{m[2]}" rel="noopener noreferrer">{m[1]}</a>', html)
        html = _BOLD.sub(r"<strong>\1</strong>", html)
        out.append(_ITALIC.sub(r"<em>\1</em>", html))
    return "".join(out)
