"""Geometry for the small server-rendered SVG trend (no JavaScript: the CSP
forbids inline script, and a chart library would be one more thing to vendor).

Percent series only (0-100 on the y axis), days on the x axis. A day with
no value breaks the line rather than drawing a misleading slope across it.
"""

from datetime import timedelta

WIDTH = 640
HEIGHT = 180
LEFT, RIGHT, TOP, BOTTOM = 74, 12, 14, 40  # plot margins: the axis labels live there, 22 units tall on phones


def _x(day, start, days):
    span = WIDTH - LEFT - RIGHT
    return round(LEFT + span * (day - start).days / max(days - 1, 1), 1)


def _y(value):
    span = HEIGHT - TOP - BOTTOM
    return round(TOP + span * (100 - max(0.0, min(100.0, value))) / 100, 1)


def _segments(points, start, days):
    """[(day, value|None)] -> polyline point strings, split where a value is missing."""
    segments, current = [], []
    for day, value in points:
        if value is None:
            if current:
                segments.append(current)
            current = []
            continue
        current.append(f"{_x(day, start, days)},{_y(value)}")
    if current:
        segments.append(current)
    return [" ".join(s) for s in segments]


def trend_chart(series, *, end, days=90):
    """series: [{"key", "label", "points": [(date, value|None), ...]}] -> template data."""
    start = end - timedelta(days=days - 1)
    lines = []
    for item in series:
        points = sorted((d, v) for d, v in item["points"] if start <= d <= end)
        known = [(d, v) for d, v in points if v is not None]
        last = known[-1] if known else None
        lines.append({
            "key": item["key"],
            "label": item["label"],
            "segments": _segments(points, start, days),
            "last": {"x": _x(last[0], start, days), "y": _y(last[1]), "value": last[1]} if last else None,
            "count": len(known),
        })
    gridlines = [{"y": _y(v), "label": f"{v}%", "label_y": _y(v)} for v in (0, 50, 100)]
    mid = start + timedelta(days=(days - 1) // 2)
    ticks = [{"x": _x(d, start, days), "label": d.strftime("%-d %b")} for d in (start, mid, end)]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "plot_left": LEFT,
        "plot_right": WIDTH - RIGHT,
        "axis_y": HEIGHT - BOTTOM + 30,
        "lines": lines,
        "gridlines": gridlines,
        "ticks": ticks,
        "days": days,
        "has_data": any(line["count"] for line in lines),
    }
