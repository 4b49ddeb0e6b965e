"""Seconds to get template-key counts for N rows: ClickHouse GROUP BY pushdown vs fetching every row into Python."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from patterns.sources import ClickHouseConfig, ClickHouseLogSource, template_keys_from_records
from patterns.sources.clickhouse import client_from_url
from tests.patterns.sources.dataset import SPAN_SECONDS, START, TEAM_ID, create_and_load, unique_table

END = START + timedelta(seconds=SPAN_SECONDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=os.environ.get("CLICKHOUSE_URL", "clickhouse://127.0.0.1:9000/default"))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="pushdown repetitions (the Python path runs once)")
    parser.add_argument("--page-size", type=int, default=100_000)
    parser.add_argument(
        "--engine",
        choices=("server", "chdb"),
        default="server",
        help="server: the ClickHouse at --url (compat schema); chdb: a current engine in process (PostHog types)",
    )
    args = parser.parse_args()

    table = unique_table("logs_bench")
    began = time.perf_counter()
    if args.engine == "chdb":
        from chdb.session import Session

        from tests.patterns.sources.chdb_client import POSTHOG_DDL, ChdbClient, copy_sql

        admin: Any = ChdbClient(Session())  # type: ignore[no-untyped-call]
        create_and_load(admin, table=f"{table}_compat", rows=args.rows)
        admin.execute(POSTHOG_DDL.format(table=table))
        admin.execute(copy_sql(source=f"{table}_compat", target=table))
        admin.execute(f"DROP TABLE {table}_compat")
        schema: Literal["posthog", "compat"] = "posthog"
        injected = admin
    else:
        admin = client_from_url(args.url, settings={}, connect_timeout=5, send_receive_timeout=600)
        create_and_load(admin, table=table, rows=args.rows)
        schema = "compat"
        injected = None
    load_seconds = time.perf_counter() - began
    (version,) = admin.execute("SELECT version()")[0]
    config = ClickHouseConfig(
        team_id=TEAM_ID, url=args.url, table=table, schema=schema, page_size=args.page_size, max_execution_time=600
    )
    try:
        with ClickHouseLogSource(config, client=injected) as source:
            pushdown_times = []
            for _ in range(args.runs):
                began = time.perf_counter()
                pushed = source.count_template_keys(service=None, start=START, end=END)
                pushdown_times.append(time.perf_counter() - began)

            began = time.perf_counter()
            records = list(source.fetch_logs(service=None, start=START, end=END))
            fetch_seconds = time.perf_counter() - began
            began = time.perf_counter()
            computed = template_keys_from_records(records)
            key_seconds = time.perf_counter() - began
    finally:
        admin.execute(f"DROP TABLE IF EXISTS {table}")
        admin.disconnect()

    same = {c.key: c.count for c in pushed} == {c.key: c.count for c in computed}
    python_seconds = fetch_seconds + key_seconds
    pushdown = statistics.median(pushdown_times)
    print(
        f"{args.engine}: clickhouse {version}, {args.rows:,} rows, {len(pushed):,} distinct keys,"
        f" counts identical: {same}"
    )
    print(f"load (INSERT ... SELECT): {load_seconds:.1f} s")
    print(f"pushdown GROUP BY masked body: median {pushdown:.2f} s over {args.runs} runs ({len(pushed):,} rows back)")
    print(
        f"python: fetch {fetch_seconds:.2f} s + template_key {key_seconds:.2f} s = {python_seconds:.2f} s"
        f" ({len(records):,} rows back, page size {args.page_size:,})"
    )
    print(f"speed-up: {python_seconds / pushdown:.1f}x")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
