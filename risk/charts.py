"""The ratio chart of a call's details: an SVG polyline of the net asset ratio over the call's life,
drawn on the server (no script library), from its snapshots and, while it is open, its figures now."""

from django.utils import timezone
from django.utils.translation import gettext as _

from . import formatting


def ratio_chart(snapshots, figures, now, *, width=640, height=180):
    """The chart's geometry: points, grid lines and labels in SVG coordinates."""
    points = [(s.taken_at, s.nav_ratio, s.get_kind_display()) for s in snapshots if s.nav_ratio is not None]
    if figures is not None and figures.nav_ratio is not None:
        points.append((now, figures.nav_ratio, _("Now")))
    if not points:
        return None
    pad_left, pad_right, pad_y = 48, 12, 16
    times = [p[0].timestamp() for p in points]
    ratios = [float(p[1]) for p in points]
    t0, t1 = min(times), max(times)
    low, high = min(0.0, *ratios), max(*ratios, 0.0)
    if high - low < 0.05:
        high = low + 0.05
    span_t = (t1 - t0) or 1.0

    def x(t):
        return pad_left + (t - t0) / span_t * (width - pad_left - pad_right) if t1 > t0 else width / 2

    def y(r):
        return pad_y + (high - r) / (high - low) * (height - 2 * pad_y)

    dots = [
        {
            "x": round(x(t), 1),
            "y": round(y(r), 1),
            "label": f"{label} {timezone.localtime(p[0]):%Y-%m-%d %H:%M} {formatting.percent(p[1])}",
        }
        for t, r, label, p in zip(times, ratios, [p[2] for p in points], points, strict=True)
    ]
    ticks = sorted({low, high, 0.0})
    return {
        "width": width,
        "height": height,
        "polyline": " ".join(f"{d['x']},{d['y']}" for d in dots),
        "dots": dots,
        "grid": [{"y": round(y(r), 1), "label": f"{r * 100:.0f}%"} for r in ticks],
        "zero": round(y(0.0), 1),
        "left": pad_left,
        "right": width - pad_right,
        "start": timezone.localtime(points[0][0]),
        "end": timezone.localtime(points[-1][0]),
    }
