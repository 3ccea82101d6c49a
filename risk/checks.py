"""Start-up checks of the recompute's settings (``manage.py check`` runs them): a bad value would
otherwise fail every recompute, or hold every tick back."""

import re

from django.conf import settings
from django.core.checks import Error, register

# PostgreSQL's memory units, as work_mem takes them.
WORK_MEM = re.compile(r"[1-9][0-9]{0,9}\s*(kB|MB|GB|TB)?")


@register("margincall")
def check_recompute(app_configs, **kwargs):
    problems = []
    if not isinstance(settings.RECOMPUTE_WORK_MEM, str) or not WORK_MEM.fullmatch(settings.RECOMPUTE_WORK_MEM):
        problems.append(
            Error(
                f"RECOMPUTE_WORK_MEM must be an amount of memory such as 256MB (a number, then kB, MB, GB or TB), "
                f"got {settings.RECOMPUTE_WORK_MEM!r}",
                id="risk.E010",
            )
        )
    if not 0 < settings.RECOMPUTE_PASS_QUEUED_SECONDS <= 3600:
        problems.append(
            Error(
                f"RECOMPUTE_PASS_QUEUED_SECONDS must be more than 0 and at most 3600, "
                f"got {settings.RECOMPUTE_PASS_QUEUED_SECONDS}",
                id="risk.E011",
            )
        )
    return problems
