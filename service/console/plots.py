"""Charts drawn on the server as SVG: no script and no charting library in the page, and every number is also
written as text (in the chart and in the table beside it), so a screen reader and a printout read the same."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

ACCEPTED, OVERRIDDEN, NO_FEEDBACK, ISSUED = "#1a7f37", "#b35900", "#6e7781", "#0b5cad"
"""Each at least 4.5:1 against white, so lines, bars and their labels stay readable."""
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


@dataclass(frozen=True)
class Bar:
    label: str
    issued: int
    accepted: int
    overridden: int


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    values: Sequence[int]


def outcome_bars(bars: Sequence[Bar], title: str) -> Markup:
    """One stacked bar per rule and advice: accepted, overridden, and issued without feedback."""
    label_width, bar_width, row = 260, 360, 26
    height = 40 + row * max(len(bars), 1)
    scale = max((max(bar.issued, bar.accepted + bar.overridden) for bar in bars), default=0) or 1
    parts = [_legend([("accepted", ACCEPTED), ("overridden", OVERRIDDEN), ("no feedback", NO_FEEDBACK)], 8)]
    for number, bar in enumerate(bars):
        y = 34 + number * row
        parts.append(f'<text x="{label_width - 8}" y="{y + 14}" text-anchor="end" {FONT}>{escape(bar.label)}</text>')
        x: float = label_width
        silent = max(bar.issued - bar.accepted - bar.overridden, 0)
        for value, colour, name in ((bar.accepted, ACCEPTED, "accepted"), (bar.overridden, OVERRIDDEN, "overridden"),
                                    (silent, NO_FEEDBACK, "no feedback")):
            width = bar_width * value / scale
            if value:
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="18" fill="{colour}">'
                             f"<title>{escape(bar.label)}: {value} {name}</title></rect>")
            x += width
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 14}" {FONT}>{bar.issued} issued, {bar.accepted} accepted, '
                     f"{bar.overridden} overridden</text>")
    if not bars:
        parts.append(f'<text x="8" y="54" {FONT}>No cards recorded yet.</text>')
    return _svg(label_width + bar_width + 240, height, title, parts)


def weekly_lines(weeks: Sequence[str], series: Sequence[Series], title: str) -> Markup:
    """A line per series over the weeks (labelled by their first day), with a dot and its number at each week."""
    left, top, width, height = 48, 36, 640, 200
    highest = max((max(s.values, default=0) for s in series), default=0)
    peak = 4 * max(1, -(-highest // 4))  # four whole-number steps up the axis
    step = width / max(len(weeks) - 1, 1)
    parts = [_legend([(s.name, s.colour) for s in series], 8)]
    for tick in range(5):
        value = peak * tick / 4
        y = top + height - height * tick / 4
        parts.append(f'<line x1="{left}" x2="{left + width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" {FONT}>{value:.0f}</text>')
    for number, week in enumerate(weeks):
        if number % 2 == 0 or len(weeks) <= 8:
            x = left + number * step
            parts.append(f'<text x="{x:.1f}" y="{top + height + 18}" text-anchor="middle" {FONT}>{escape(week)}</text>')
    for s in series:
        points = [(left + n * step, top + height - height * v / peak) for n, v in enumerate(s.values)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{s.colour}" stroke-width="2"/>')
        for (x, y), value, week in zip(points, s.values, weeks, strict=True):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{s.colour}">'
                         f"<title>{escape(s.name)}, week of {escape(week)}: {value}</title></circle>")
    return _svg(left + width + 24, top + height + 32, title, parts)


def _legend(items: Sequence[tuple[str, str]], y: int) -> str:
    parts, x = [], 8
    for name, colour in items:
        parts.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="{y + 10}" {FONT}>{escape(name)}</text>')
        x += 28 + 7 * len(name)
    return "".join(parts)


def _svg(width: float, height: float, title: str, parts: Sequence[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )
