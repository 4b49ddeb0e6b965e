// Charts: recharts, one component per question a reader asks ("where will the month end?", "is this growing?").
import {
    Area,
    Bar,
    CartesianGrid,
    ComposedChart,
    Legend,
    Line,
    ResponsiveContainer,
    Scatter,
    ScatterChart,
    Tooltip,
    XAxis,
    YAxis,
    ZAxis,
} from 'recharts'

import type { Anomaly, PatternWindow, Projection } from '../api/types'
import { formatBytes, formatCount, formatDateTime, formatDay } from '../lib/format'

const INK = '#1f2937'
const GRID = '#e5e7eb'
const BEFORE = '#94a3b8'
const AFTER = '#2563eb'
const FORECAST = '#93c5fd'

export function ProjectionChart({ projection }: { projection: Projection }) {
    const rows = projection.series.map((point) => ({
        day: formatDay(point.date),
        actual: point.forecast ? null : point.bytes,
        forecast: point.forecast ? point.bytes : null,
        without: point.bytes_without,
    }))
    if (rows.length === 0) return <div className="status status-empty">No daily volume yet.</div>
    return (
        <div className="chart" data-testid="projection-chart">
            <ResponsiveContainer width="100%" height={260}>
                <ComposedChart data={rows} margin={{ top: 8, right: 16, bottom: 0, left: 8 }}>
                    <CartesianGrid stroke={GRID} vertical={false} />
                    <XAxis dataKey="day" tick={{ fill: INK, fontSize: 12 }} minTickGap={16} />
                    <YAxis tickFormatter={(v: number) => formatBytes(v)} tick={{ fill: INK, fontSize: 12 }} width={72} />
                    <Tooltip formatter={(v) => formatBytes(Number(v))} />
                    <Legend />
                    <Bar dataKey="actual" name="Sent per day" fill={AFTER} isAnimationActive={false} />
                    <Bar dataKey="forecast" name="Forecast under the policy in force" fill={FORECAST} isAnimationActive={false} />
                    <Line
                        dataKey="without"
                        name="Without LipService"
                        stroke={BEFORE}
                        strokeDasharray="5 4"
                        dot={false}
                        isAnimationActive={false}
                    />
                </ComposedChart>
            </ResponsiveContainer>
        </div>
    )
}

export function TrendChart({ windows }: { windows: PatternWindow[] }) {
    const rows = windows.map((w) => ({
        time: formatDateTime(w.bucket_start).slice(5, 16),
        lines: w.count ?? 0,
        kept: w.sdk_seen ? (w.sdk_kept ?? 0) : null,
        // The share kept shows the anomaly boost: it rises while the pattern runs above its baseline.
        keptShare: w.sdk_seen ? (100 * (w.sdk_kept ?? 0)) / w.sdk_seen : null,
        errors: w.errors ?? 0,
    }))
    if (rows.length === 0) return <div className="status status-empty">No hourly counts for this pattern.</div>
    return (
        <div className="chart" data-testid="trend-chart">
            <ResponsiveContainer width="100%" height={260}>
                <ComposedChart data={rows} margin={{ top: 8, right: 16, bottom: 0, left: 8 }}>
                    <CartesianGrid stroke={GRID} vertical={false} />
                    <XAxis dataKey="time" tick={{ fontSize: 12 }} minTickGap={32} />
                    <YAxis yAxisId="lines" tick={{ fontSize: 12 }} width={56} tickFormatter={(v: number) => formatCount(v)} />
                    <YAxis
                        yAxisId="share"
                        orientation="right"
                        domain={[0, 100]}
                        tick={{ fontSize: 12 }}
                        width={44}
                        tickFormatter={(v: number) => `${v}%`}
                    />
                    <Tooltip />
                    <Legend />
                    <Area yAxisId="lines" dataKey="lines" name="Lines" stroke={AFTER} fill={FORECAST} isAnimationActive={false} />
                    <Area yAxisId="lines" dataKey="kept" name="Kept by SDK" stroke="#059669" fill="#a7f3d0" isAnimationActive={false} />
                    <Bar yAxisId="lines" dataKey="errors" name="Errors" fill="#dc2626" isAnimationActive={false} />
                    <Line
                        yAxisId="share"
                        dataKey="keptShare"
                        name="Share kept (%): rises under the anomaly boost"
                        stroke="#7c3aed"
                        dot={false}
                        connectNulls={false}
                        isAnimationActive={false}
                    />
                </ComposedChart>
            </ResponsiveContainer>
        </div>
    )
}

const SEVERITY_COLOURS: Record<string, string> = { critical: '#b91c1c', high: '#dc2626', medium: '#f59e0b', low: '#64748b' }

export function AnomalyTimeline({ anomalies }: { anomalies: Anomaly[] }) {
    if (anomalies.length === 0) return <div className="status status-empty">No anomalies in this period.</div>
    const groups = new Map<string, { t: number; score: number; confidence: number; label: string }[]>()
    for (const anomaly of anomalies) {
        const key = anomaly.severity.toLowerCase()
        const list = groups.get(key) ?? []
        list.push({
            t: new Date(anomaly.window_start).getTime(),
            score: Math.abs(anomaly.score),
            confidence: anomaly.confidence,
            label: `${anomaly.kind}: ${anomaly.template ?? anomaly.pattern ?? ''}`,
        })
        groups.set(key, list)
    }
    return (
        <div className="chart" data-testid="anomaly-timeline">
            <ResponsiveContainer width="100%" height={220}>
                <ScatterChart margin={{ top: 8, right: 16, bottom: 0, left: 8 }}>
                    <CartesianGrid stroke={GRID} />
                    <XAxis
                        type="number"
                        dataKey="t"
                        domain={['dataMin', 'dataMax']}
                        tickFormatter={(v: number) => new Date(v).toISOString().slice(5, 13).replace('T', ' ') + 'h'}
                        tick={{ fontSize: 12 }}
                        name="time"
                    />
                    <YAxis type="number" dataKey="score" name="score" tick={{ fontSize: 12 }} width={48} />
                    <ZAxis type="number" dataKey="confidence" range={[40, 200]} name="confidence" />
                    <Tooltip
                        formatter={(value, name) => (name === 'time' ? new Date(Number(value)).toISOString() : Number(value).toFixed(2))}
                    />
                    <Legend />
                    {[...groups.entries()].map(([severity, points]) => (
                        <Scatter
                            key={severity}
                            name={severity}
                            data={points}
                            fill={SEVERITY_COLOURS[severity] ?? INK}
                            isAnimationActive={false}
                        />
                    ))}
                </ScatterChart>
            </ResponsiveContainer>
        </div>
    )
}
