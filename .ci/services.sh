#!/usr/bin/env bash
# Installs (if missing) and starts a private ClickHouse server for tests, and installs Debian's chromium for the
# browser tests; idempotent, no systemd.
#
# Env:
#   CLICKHOUSE_PORT       native port (default 9000)
#   CLICKHOUSE_HTTP_PORT  HTTP port (default 8123)
#   CLICKHOUSE_HOME       config/data/log dir (default <repo>/.services/clickhouse)
#   CLICKHOUSE_WAIT       seconds to wait for the server to answer (default 60)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${CLICKHOUSE_PORT:-9000}"
HTTP_PORT="${CLICKHOUSE_HTTP_PORT:-8123}"
HOME_DIR="${CLICKHOUSE_HOME:-$REPO_ROOT/.services/clickhouse}"
WAIT_SECONDS="${CLICKHOUSE_WAIT:-60}"
PID_FILE="$HOME_DIR/clickhouse-server.pid"
CONFIG="$HOME_DIR/config.xml"

log() { echo "services.sh: $*" >&2; }

ensure_installed() {
    if command -v clickhouse-server >/dev/null 2>&1 && command -v clickhouse-client >/dev/null 2>&1; then
        return
    fi
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine may have empty package lists; refresh only when apt cannot see the package.
    if ! apt-cache show clickhouse-server >/dev/null 2>&1; then
        log "apt-get update"
        apt-get update -qq
    fi
    log "installing clickhouse-server"
    apt-get install -y -qq --no-install-recommends clickhouse-server clickhouse-client >/dev/null
}

answers() {
    clickhouse-client --host 127.0.0.1 --port "$PORT" --query "SELECT 1" >/dev/null 2>&1
}

writable() {
    clickhouse-client --host 127.0.0.1 --port "$PORT" --multiquery --query \
        "CREATE TABLE IF NOT EXISTS default.services_probe (x UInt8) ENGINE = Memory; DROP TABLE default.services_probe" \
        >/dev/null 2>&1
}

stop_orphans() {
    # A server started by an earlier run whose folder has since been deleted (a removed clone) still answers but
    # cannot create tables: stop it so that this run starts its own.
    local pid cfg
    for pid in $(pgrep -f "clickhouse-server --config-file=" || true); do
        cfg="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | sed -n 's/^--config-file=//p' | head -n 1)"
        if [ -n "$cfg" ] && [ ! -e "$cfg" ]; then
            log "stopping clickhouse $pid: its config $cfg no longer exists"
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
            kill -9 "$pid" 2>/dev/null || true
        fi
    done
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

write_config() {
    mkdir -p "$HOME_DIR/data" "$HOME_DIR/tmp" "$HOME_DIR/user_files" "$HOME_DIR/format_schemas" "$HOME_DIR/log"
    cat >"$CONFIG" <<XML
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$HOME_DIR/log/clickhouse-server.log</log>
        <errorlog>$HOME_DIR/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$HTTP_PORT</http_port>
    <tcp_port>$PORT</tcp_port>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>64</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$HOME_DIR/data/</path>
    <tmp_path>$HOME_DIR/tmp/</tmp_path>
    <user_files_path>$HOME_DIR/user_files/</user_files_path>
    <format_schema_path>$HOME_DIR/format_schemas/</format_schema_path>
    <users_config>$HOME_DIR/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
XML
    cat >"$HOME_DIR/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
        </default>
        <readonly>
            <readonly>2</readonly>
        </readonly>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <readonly>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>readonly</profile>
            <quota>default</quota>
        </readonly>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
XML
}

ensure_chromium() {
    # The browser tests drive Debian's chromium; nothing downloads a browser of its own.
    if ! command -v chromium >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-cache show chromium >/dev/null 2>&1 || apt-get update -qq
        log "installing chromium"
        apt-get install -y -qq chromium >/dev/null
    fi
}

main() {
    ensure_chromium
    ensure_installed
    stop_orphans
    if answers; then
        # Ours from an earlier run, or one the machine already runs: either serves the tests if it can write.
        if ! writable; then
            log "the clickhouse server on 127.0.0.1:$PORT answers but cannot create a table; stop it or set CLICKHOUSE_PORT"
            exit 1
        fi
        log "a clickhouse server already answers on 127.0.0.1:$PORT"
        return
    fi
    if port_in_use "$PORT"; then
        log "port $PORT is taken by another process; set CLICKHOUSE_PORT (and CLICKHOUSE_URL for the tests)"
        exit 1
    fi
    rm -f "$PID_FILE"
    write_config
    log "starting clickhouse on 127.0.0.1:$PORT (http $HTTP_PORT), data in $HOME_DIR"
    clickhouse-server --config-file="$CONFIG" --pid-file="$PID_FILE" --daemon
    for _ in $(seq 1 "$((WAIT_SECONDS * 4))"); do
        if answers; then
            log "clickhouse is up"
            return
        fi
        sleep 0.25
    done
    log "clickhouse did not answer within ${WAIT_SECONDS}s; last log lines:"
    tail -n 20 "$HOME_DIR/log/clickhouse-server.err.log" >&2 || true
    exit 1
}

main "$@"
