"""Places on a page where an app above the page's own adds a panel, without the page's app importing
it (as NetBox's template extensions do). The risk app's call details has a slot ``call_detail``; the
liquidation app fills it with its panel.

A panel is a function ``(request, **context) -> str | None`` (rendered HTML, or nothing to show),
registered in the app's ``ready``."""

from collections import defaultdict
from collections.abc import Callable

from django.utils.safestring import SafeString, mark_safe

_panels: dict[str, list[Callable]] = defaultdict(list)


def register(slot: str, panel: Callable) -> None:
    if panel not in _panels[slot]:
        _panels[slot].append(panel)


def render(slot: str, request, **context) -> list[SafeString]:
    """The slot's panels for this request, in the order they were registered. A panel renders a
    template (escaped as any), so what it returns is marked safe here."""
    rendered = (panel(request, **context) for panel in _panels[slot])
    return [mark_safe(html) for html in rendered if html]
