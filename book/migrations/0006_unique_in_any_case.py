import django.db.models.functions.text
from django.db import migrations, models

import book.models
from django.db.models import Count
from django.db.models.functions import Upper


def refuse_numbers_that_differ_only_in_capitals(apps, schema_editor):
    """Two stored accounts (instruments, desks) whose numbers differ only in capitals cannot be told apart
    on the desk's screen; the constraint below cannot be added until an operator renames or merges them,
    so the migration stops and names them."""
    clashes = []
    for model, field in (("Account", "account_no"), ("Instrument", "symbol"), ("Desk", "code")):
        Model = apps.get_model("book", model)
        keys = (
            Model.objects.annotate(key=Upper(field))
            .values("key")
            .annotate(count=Count("pk"))
            .filter(count__gt=1)
            .values_list("key", flat=True)
        )
        for key in keys:
            same = sorted(Model.objects.annotate(key=Upper(field)).filter(key=key).values_list(field, flat=True))
            clashes.append(f"{model.lower()}s {', '.join(map(repr, same))}")
    if clashes:
        raise RuntimeError(
            "These differ only in capitals; rename or merge them, then migrate again: " + "; ".join(clashes)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("book", "0005_book_values_bounded"),
    ]

    operations = [
        migrations.RunPython(refuse_numbers_that_differ_only_in_capitals, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Upper("account_no"),
                name="account_no_unique_in_any_case",
                violation_error_message="An account with this number in other capitals exists.",
            ),
        ),
        migrations.AddConstraint(
            model_name="desk",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Upper("code"),
                name="desk_code_unique_in_any_case",
                violation_error_message="A desk with this code in other capitals exists.",
            ),
        ),
        migrations.AddConstraint(
            model_name="instrument",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Upper("symbol"),
                name="symbol_unique_in_any_case",
                violation_error_message="An instrument with this symbol in other capitals exists.",
            ),
        ),
        migrations.AlterField(
            model_name="account",
            name="account_no",
            field=models.CharField(
                max_length=32, unique=True, validators=[book.models.validate_key], verbose_name="account number"
            ),
        ),
        migrations.AlterField(
            model_name="desk",
            name="code",
            field=models.CharField(max_length=32, unique=True, validators=[book.models.validate_key], verbose_name="code"),
        ),
        migrations.AlterField(
            model_name="instrument",
            name="symbol",
            field=models.CharField(max_length=32, unique=True, validators=[book.models.validate_key], verbose_name="symbol"),
        ),
    ]
