from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from risk.models import possible_time
from risk.times import validate_possible_time


class LendingAvailability(models.Model):
    """Shares of a stock the prime broker can lend, as last reported upstream."""

    instrument = models.OneToOneField(
        "risk.Instrument", on_delete=models.CASCADE, primary_key=True, related_name="lending"
    )
    lendable = models.BigIntegerField(_("lendable shares"))
    as_of = models.DateTimeField(_("as of"), default=timezone.now, validators=[validate_possible_time])

    class Meta:
        verbose_name = _("lending availability")
        verbose_name_plural = _("lending availability")
        constraints = [
            models.CheckConstraint(condition=models.Q(lendable__gte=0), name="lendable_not_negative"),
            possible_time("as_of"),
        ]

    def __str__(self):
        return f"{self.instrument} {self.lendable}"
