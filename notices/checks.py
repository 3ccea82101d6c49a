"""Start-up checks of the notices' settings (``manage.py check`` runs them)."""

from django.conf import settings
from django.core.checks import Error, register


@register("margincall")
def check_retries(app_configs, **kwargs):
    """The sweep sends again a delivery left queued for NOTICE_SWEEP_AFTER_SECONDS (its task was lost):
    shorter than the longest wait between two tries, it would send one early that is only waiting."""
    longest = settings.NOTICE_RETRY_SECONDS * 2 ** max(0, settings.NOTICE_MAX_RETRIES - 1)
    if settings.NOTICE_MAX_RETRIES and longest >= settings.NOTICE_SWEEP_AFTER_SECONDS:
        return [
            Error(
                f"NOTICE_SWEEP_AFTER_SECONDS ({settings.NOTICE_SWEEP_AFTER_SECONDS}) must be longer than the longest"
                f" wait between a notice's tries (NOTICE_RETRY_SECONDS x 2^(NOTICE_MAX_RETRIES - 1) = {longest} s)",
                id="notices.E001",
            )
        ]
    return []
