import type { SimulationReport } from '../api/types'
import { formatBytes, formatCount, formatMoney, formatPercent } from '../lib/format'
import { Kpi, KpiRow } from './Kpi'
import { RateBadge } from './RateBadge'

export function SimulationView({ report }: { report: SimulationReport }) {
    const monthlyBefore = report.dollars_per_month_before ?? report.dollars_before
    const monthlyAfter = report.dollars_per_month_after ?? report.dollars_after
    const perMonth = report.dollars_per_month_before !== null
    const lostErrors = report.errors_total - report.errors_kept
    const losses = [...report.per_pattern]
        .filter((p) => p.lines > p.kept)
        .sort((a, b) => b.bytes - b.bytes_kept - (a.bytes - a.bytes_kept))
        .slice(0, 10)
    return (
        <div className="simulation" data-testid="simulation">
            <KpiRow>
                <Kpi label="Bytes kept" value={formatBytes(report.bytes_kept)} hint={`of ${formatBytes(report.bytes_total)} · −${formatPercent(report.reduction_bytes)}`} tone="good" />
                <Kpi
                    label={perMonth ? 'Cost per month' : 'Cost of the replay'}
                    value={`${formatMoney(monthlyAfter)}`}
                    hint={`was ${formatMoney(monthlyBefore)} · saves ${formatMoney(monthlyBefore - monthlyAfter)}`}
                    tone="good"
                />
                <Kpi label="Errors kept" value={`${formatCount(report.errors_kept)} / ${formatCount(report.errors_total)}`} hint={lostErrors ? 'some errors would be lost' : 'every error kept'} tone={lostErrors ? 'bad' : 'good'} />
                <Kpi label="Patterns still seen" value={`${formatCount(report.patterns_covered)} / ${formatCount(report.patterns_total)}`} hint="at least one line kept" tone={report.patterns_covered < report.patterns_total ? 'bad' : 'neutral'} />
            </KpiRow>
            <h3>What would be dropped</h3>
            {losses.length === 0 ? (
                <div className="status status-empty">Nothing: every line of the replay is kept.</div>
            ) : (
                <table className="table compact">
                    <thead>
                        <tr>
                            <th>Pattern</th>
                            <th>Rate</th>
                            <th className="num">Lines dropped</th>
                            <th className="num">Bytes dropped</th>
                        </tr>
                    </thead>
                    <tbody>
                        {losses.map((p) => (
                            <tr key={p.pattern_id}>
                                <td className="template">
                                    <code>{p.template}</code>
                                </td>
                                <td>
                                    <RateBadge rate={p.rate} />
                                </td>
                                <td className="num">{formatCount(p.lines - p.kept)}</td>
                                <td className="num">{formatBytes(p.bytes - p.bytes_kept)}</td>
                            </tr>
                        ))}
                    </tbody>
                </table>
            )}
        </div>
    )
}
