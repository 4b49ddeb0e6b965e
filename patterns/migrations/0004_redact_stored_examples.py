"""Examples and miner states stored before redaction are redacted in place, so no earlier raw line stays at rest."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def redact_stored(apps: Any, schema_editor: Any) -> None:
    from patterns.engine.miner import Miner
    from patterns.engine.redaction import redact

    Pattern = apps.get_model("patterns", "Pattern")
    Service = apps.get_model("patterns", "Service")
    changed = []
    for pattern in Pattern.objects.exclude(examples=[]).only("pk", "examples").iterator():
        examples = list(dict.fromkeys(redact(str(e)) for e in pattern.examples or []))
        if examples != pattern.examples:
            pattern.examples = examples
            changed.append(pattern)
    Pattern.objects.bulk_update(changed, ["examples"], batch_size=500)
    for service in Service.objects.exclude(miner_state={}).only("pk", "miner_state").iterator():
        state = service.miner_state
        if state and not state.get("redacted"):
            try:
                service.miner_state = Miner.from_dict(state).to_dict()
            except (ValueError, KeyError, TypeError):
                # An unreadable state is rebuilt by the next analysis; it must not keep raw lines meanwhile.
                service.miner_state = {}
            service.save(update_fields=["miner_state"])


class Migration(migrations.Migration):
    dependencies = [("patterns", "0003_analysisrun_source_ref")]

    operations = [migrations.RunPython(redact_stored, migrations.RunPython.noop)]
