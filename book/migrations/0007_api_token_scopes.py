"""What an API token may post (ApiToken.scopes). Tokens made before keep every API they could post to."""

import book.models
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('book', '0006_unique_in_any_case'),
    ]

    operations = [
        migrations.AddField(
            model_name='apitoken',
            name='scopes',
            field=models.CharField(default='ticks,lending,notice_status', max_length=100, validators=[book.models.validate_scopes], verbose_name='may post'),
        ),
    ]
