from django.db import migrations, models

CODES = ("", "placed", "closed")


def into_languages(apps, schema_editor):
    """A refusal written before was written in the language of the trader who started the batch: it is
    kept as that language's text, and the outcome says "refused"."""
    BatchItem = apps.get_model("liquidation", "BatchItem")
    items = list(BatchItem.objects.exclude(outcome__in=CODES).select_related("batch"))
    for item in items:
        item.refusal = {item.batch.language: item.outcome}
        item.outcome = "refused"
    BatchItem.objects.bulk_update(items, ["refusal", "outcome"], batch_size=1000)


def into_one_language(apps, schema_editor):
    BatchItem = apps.get_model("liquidation", "BatchItem")
    items = list(BatchItem.objects.filter(outcome="refused").select_related("batch"))
    for item in items:
        texts = item.refusal
        item.outcome = (texts.get(item.batch.language) or next(iter(texts.values()), ""))[:500]
    BatchItem.objects.bulk_update(items, ["outcome"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("liquidation", "0007_batch_item_plan")]

    operations = [
        migrations.AddField(
            model_name="batchitem",
            name="refusal",
            field=models.JSONField(blank=True, default=dict, verbose_name="why refused"),
        ),
        migrations.AlterField(
            model_name="batchitem",
            name="outcome",
            field=models.CharField(blank=True, max_length=500, verbose_name="outcome"),
        ),
        migrations.RunPython(into_languages, into_one_language),
        migrations.AlterField(
            model_name="batchitem",
            name="outcome",
            field=models.CharField(
                blank=True,
                choices=[("placed", "placed"), ("closed", "closed before its turn"), ("refused", "refused")],
                max_length=8,
                verbose_name="outcome",
            ),
        ),
        migrations.RemoveField(model_name="batch", name="language"),
    ]
