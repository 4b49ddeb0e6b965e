from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("patterns", "0004_redact_stored_examples"),
    ]

    operations = [
        migrations.AddField(
            model_name="statsbatch",
            name="errors_lost",
            field=models.BigIntegerField(default=0, help_text="Kept ERROR/FATAL lines that could not be delivered."),
        ),
        migrations.AddField(
            model_name="statsbatch",
            name="export_failed",
            field=models.BigIntegerField(default=0, help_text="Kept lines below ERROR whose export failed."),
        ),
        migrations.AddField(
            model_name="statsbatch",
            name="shed",
            field=models.BigIntegerField(default=0, help_text="Kept lines below ERROR refused by a full export queue."),
        ),
        migrations.AddField(
            model_name="statsbatch",
            name="shed_errors",
            field=models.BigIntegerField(
                default=0, help_text="Kept ERROR/FATAL lines refused by a full export queue."
            ),
        ),
        migrations.AddField(
            model_name="statsbatch",
            name="spool_corrupt",
            field=models.BigIntegerField(default=0, help_text="Spool files of undelivered errors found damaged."),
        ),
        migrations.AddIndex(
            model_name="statsbatch",
            index=models.Index(
                condition=models.Q(
                    ("errors_lost__gt", 0),
                    ("shed_errors__gt", 0),
                    ("export_failed__gt", 0),
                    ("shed__gt", 0),
                    ("spool_corrupt__gt", 0),
                    _connector="OR",
                ),
                fields=["service", "received_at"],
                name="stats_batch_losses",
            ),
        ),
    ]
