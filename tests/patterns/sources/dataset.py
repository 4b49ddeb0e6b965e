"""A realistic synthetic `logs` table (PostHog column names, 18.16-compatible types) loaded with INSERT ... SELECT."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from clickhouse_driver import Client

TEAM_ID = 7
OTHER_TEAM_ID = 8
START = datetime(2026, 11, 20, tzinfo=UTC)
SPAN_SECONDS = 86_400

# The compat schema: DateTime for DateTime64(6), Nested(keys, values) for Map; `.keys`/`.values` read the same on both.
COMPAT_DDL = """
CREATE TABLE {table} (
    uuid String,
    team_id Int32,
    timestamp DateTime('UTC'),
    observed_timestamp DateTime('UTC'),
    body String,
    severity_text String,
    severity_number Int32,
    service_name String,
    trace_id String,
    span_id String,
    attributes_map_str Nested(keys String, values String),
    resource_attributes Nested(keys String, values String),
    _bytes_uncompressed UInt64
) ENGINE = MergeTree() PARTITION BY toDate(timestamp) ORDER BY (team_id, service_name, timestamp)
"""

# Placeholder -> per-row value; templates are picked from a constant array so only the chosen one is materialised.
VALUES: tuple[tuple[str, str], ...] = (
    ("{N}", "toString(h % 100000)"),
    ("{S}", "toString(h % 97)"),
    ("{IP}", "IPv4NumToString(toUInt32(h % 4294967295))"),
    ("{HEX}", "lower(hex(cityHash64(number, 7)))"),
    ("{HEX3}", "lower(hex(cityHash64(number, 3)))"),
    ("{UUID}", "toString(generateUUIDv4())"),
    ("{EMAIL}", "concat('user', toString(h % 5000), '@example.com')"),
    ("{MS}", "concat(toString(h % 900), '.', toString(h % 10))"),
    ("{WORD}", "arrayElement(['alpha', 'beta', 'gamma', 'delta', 'omega'], 1 + h % 5)"),
    ("{LETTERS}", "replaceRegexpAll(hex(h), '[0-9]', '')"),
    ("{TS}", "toString(timestamp)"),
    ("{B}", "lower(hex(toUInt8(h % 256)))"),
)

_LONG_ASCII = "ab " * 1700
_LONG_UNICODE = "é" * 4094

# (weight, severity_text, severity_number, service, body template); weights sum to 1000.
TEMPLATES: tuple[tuple[int, str, int, str, str], ...] = (
    (285, "info", 9, "api", "GET /api/v1/users/{N} 200 {MS}ms"),
    (150, "info", 9, "api", "User {EMAIL} logged in from {IP}"),
    (90, "debug", 5, "worker", "Cache miss for key session:{HEX} ttl={S}"),
    (80, "info", 9, "worker", "Worker {S} processed {N} jobs in {MS}s"),
    (60, "warn", 13, "api", "Slow query took {MS} ms: SELECT * FROM orders WHERE id = {N}"),
    (50, "error", 17, "billing", "Payment {UUID} failed: card declined (code={S})"),
    (50, "info", 9, "billing", 'Invoice "INV-{N}" sent to {EMAIL}'),
    (40, "", 13, "api", "Timeout after {N}ms calling http://{IP}:8080/health"),
    (35, "info", 9, "worker", "Job started at {TS} request_id={HEX}"),
    (30, "warning", 13, "worker", "Retrying   task\t{WORD}  attempt {S}/5  "),
    (25, "info", 9, "api", "Échec de connexion à db-{S}: délai dépassé après {N} ms"),
    (20, "error", 17, "api", "Unhandled exception in handler {WORD}: KeyError('{WORD}')"),
    (20, "fatal", 21, "billing", "Ledger mismatch for account {HEX} at 2026-11-20T10:00:00Z"),
    (20, "info", 9, "api", "Unknown command {LETTERS}"),
    (20, "", 0, "worker", "heartbeat ok mac=00:1a:2b:3c:4d:{B}"),
    (5, "debug", 5, "api", "payload {S} " + _LONG_ASCII),
    (5, "info", 9, "api", _LONG_UNICODE + " {S}"),
    (15, "info", 9, "worker", "Mounted volume at /dev/sd{S} usage 87% trace {HEX3}"),
)


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\t", "\\t") + "'"


def _array(values: list[str] | list[int]) -> str:
    return "[" + ", ".join(_literal(v) if isinstance(v, str) else str(v) for v in values) + "]"


def _split(template: str) -> tuple[list[str], list[int]]:
    """Literal segments and, after each, the 1-based VALUES index that follows it (0 after the last)."""
    names = [name for name, _ in VALUES]
    literals: list[str] = []
    placeholders: list[int] = []
    rest = template
    while True:
        positions = [(rest.find(name), i) for i, name in enumerate(names) if rest.find(name) >= 0]
        if not positions:
            literals.append(rest)
            placeholders.append(0)
            return literals, placeholders
        at, which = min(positions)
        literals.append(rest[:at])
        placeholders.append(which + 1)
        rest = rest[at + len(names[which]) :]


def _body_expression() -> tuple[str, str, str]:
    # 18.16 has no short-circuit multiIf, wants constant replaceAll arguments and loses lambda captures: pick the
    # template's segments from constant arrays (only the chosen one is materialised) and index the per-row values.
    parts = [_split(t[4]) for t in TEMPLATES]
    width = max(len(lits) for lits, _ in parts)
    literals = "[" + ", ".join(_array(lits + [""] * (width - len(lits))) for lits, _ in parts) + "]"
    slots = "[" + ", ".join(_array(phs + [0] * (width - len(phs))) for _, phs in parts) + "]"
    pieces = [f"lits[{i}], arrayElement(vals, toUInt32(slots[{i}]))" for i in range(1, width + 1)]
    return f"concat({', '.join(pieces)})", literals, slots


def _value_columns() -> str:
    return "[" + ", ".join(expression for _, expression in VALUES) + "] AS vals"


def _index_array() -> str:
    indices: list[int] = []
    for position, template in enumerate(TEMPLATES, start=1):
        indices.extend([position] * template[0])
    return _array(indices)


def insert_sql(*, table: str, team_id: int, rows: int, offset: int = 0, total: int | None = None) -> str:
    """Deterministic per number except uuids; timestamps spread over one day with many ties (keyset tie-breaks)."""
    start = int(START.timestamp())
    total = total or rows
    body, literals, slots = _body_expression()
    return f"""
INSERT INTO {table} (uuid, team_id, timestamp, observed_timestamp, body, severity_text, severity_number, service_name,
    trace_id, span_id, attributes_map_str.keys, attributes_map_str.values, resource_attributes.keys,
    resource_attributes.values, _bytes_uncompressed)
SELECT uuid, {team_id}, timestamp, timestamp, body, severity_text, severity_number, service_name, trace_id, span_id,
    ['http.status__str', 'template__str'], [toString(200 + idx % 5), toString(idx)], ['service.name'], [service_name],
    length(body) + 48
FROM (
    SELECT number, toString(generateUUIDv4()) AS uuid, h, idx, timestamp,
        arrayElement({_array([t[1] for t in TEMPLATES])}, idx) AS severity_text,
        toInt32(arrayElement({_array([t[2] for t in TEMPLATES])}, idx)) AS severity_number,
        arrayElement({_array([t[3] for t in TEMPLATES])}, idx) AS service_name,
        if(h % 4 = 0, '{"0" * 32}', concat(lower(hex(cityHash64(number, 7))), lower(hex(cityHash64(number, 11)))))
            AS trace_id,
        if(h % 4 = 0, '{"0" * 16}', lower(hex(cityHash64(number, 13)))) AS span_id,
        {body} AS body
    FROM (
        SELECT number, intHash64(number) AS h, arrayElement({_index_array()}, 1 + intHash32(number) % 1000) AS idx,
            toDateTime({start} + intDiv(number * {SPAN_SECONDS}, {total}), 'UTC') AS timestamp, {_value_columns()},
            arrayElement({literals}, idx) AS lits, arrayElement({slots}, idx) AS slots
        FROM numbers({offset}, {rows})
    )
)
"""  # noqa: S608 - test tables only


def unique_table(prefix: str = "logs_test") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


# multiIf materialises every arm per row; small blocks keep the 8 KB bodies of the long templates cheap.
_LOAD_SETTINGS = {"max_block_size": 4096}


def create_and_load(client: Client, *, table: str, rows: int, other_team_rows: int = 0) -> None:
    client.execute(COMPAT_DDL.format(table=table))
    # Batches keep server memory modest on a 2-core CI machine.
    batch = 250_000
    for offset in range(0, rows, batch):
        client.execute(
            insert_sql(table=table, team_id=TEAM_ID, rows=min(batch, rows - offset), offset=offset, total=rows),
            settings=_LOAD_SETTINGS,
        )
    if other_team_rows:
        client.execute(insert_sql(table=table, team_id=OTHER_TEAM_ID, rows=other_team_rows), settings=_LOAD_SETTINGS)
