"""Celery entry points for the patterns app: ids in, one service call each."""

from __future__ import annotations

from celery import shared_task

from patterns.analysis import analysis_execute, analysis_execute_records
from patterns.services import pattern_windows_prune, records_from_lines


@shared_task(name="patterns.prune_windows")
def prune_windows() -> int:
    return pattern_windows_prune()


@shared_task(name="patterns.analyze_window")
def analyze_window(*, run_id: int) -> str:
    return str(analysis_execute(run_id=run_id).status)


@shared_task(name="patterns.analyze_lines")
def analyze_lines(*, run_id: int, service: str, lines: list[dict[str, str]]) -> str:
    return str(analysis_execute_records(run_id=run_id, records=records_from_lines(service=service, lines=lines)).status)
