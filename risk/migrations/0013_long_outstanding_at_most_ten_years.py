import django.core.validators
from django.db import migrations, models

LONGEST = 3650


def clamp(apps, schema_editor):
    """A rule set saved with more days than a date can go back (the Risk Warning page then failed) gets
    the longest allowed."""
    RuleSet = apps.get_model("risk", "RuleSet")
    RuleSet.objects.filter(long_outstanding_days__gt=LONGEST).update(long_outstanding_days=LONGEST)


class Migration(migrations.Migration):
    dependencies = [
        ("risk", "0012_figures_room_to_update_in_place"),
    ]

    operations = [
        migrations.AlterField(
            model_name="ruleset",
            name="long_outstanding_days",
            field=models.PositiveSmallIntegerField(
                default=90,
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(LONGEST),
                ],
                verbose_name="long outstanding after (days)",
            ),
        ),
        migrations.RunPython(clamp, migrations.RunPython.noop),
    ]
