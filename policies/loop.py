"""The automatic loop per service: analyse the next window ▸ propose ▸ simulate ▸ publish (when allowed)."""

from __future__ import annotations

from patterns.analysis import analysis_execute, analysis_run_create, analysis_window_due
from patterns.models import AnalysisRun, Service
from policies.models import PolicyVersion
from policies.selectors import latest_version
from policies.services import policy_propose

READABLE = (Service.SourceKind.FILE, Service.SourceKind.POSTHOG, Service.SourceKind.CLICKHOUSE)


def pipeline_services() -> list[int]:
    return list(Service.objects.filter(source_kind__in=READABLE).order_by("pk").values_list("pk", flat=True))


def pipeline_run(*, service_id: int, max_hours: int | None = None) -> str:
    """One step of the loop; returns what it did, for the task log."""
    service = Service.objects.select_related("team").get(pk=service_id)
    window = analysis_window_due(service=service, max_hours=max_hours)
    analysed = 0
    if window is not None:
        method = "pushdown" if service.source_config.get("pushdown") else "fetch"
        run = analysis_run_create(service=service, start=window[0], end=window[1], method=method)
        run = analysis_execute(run_id=run.pk)
        if run.status != AnalysisRun.Status.SUCCEEDED:
            return f"analysis failed: {run.error}"
        analysed = run.lines_read
        service.refresh_from_db()
    if analysed == 0 and PolicyVersion.objects.filter(service=service).exists():
        return "no new lines; policy unchanged"
    version = policy_propose(service=service, unless_same_as=latest_version(service=service))
    if version is None:
        return f"analysed {analysed} lines; policy unchanged"
    return f"analysed {analysed} lines; version {version.number} {version.status}"
