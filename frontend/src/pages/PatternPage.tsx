import { apiGet } from '../api/client'
import type { PatternDetail } from '../api/types'
import { Card } from '../components/Card'
import { TrendChart } from '../components/charts'
import { Kpi, KpiRow } from '../components/Kpi'
import { RateBadge } from '../components/RateBadge'
import { SeverityMix, severityCounts } from '../components/SeverityMix'
import { ErrorBox, Loading } from '../components/Status'
import { formatBytes, formatCount, formatDateTime, formatPercent } from '../lib/format'
import { links } from '../lib/links'
import { useApi } from '../lib/useApi'

export function PatternPage({ service, patternId }: { service: string; patternId: string }) {
    const pattern = useApi(
        (signal) => apiGet('/api/v1/patterns/{service}/{pattern_id}', { service, pattern_id: patternId }, {}, signal),
        `pattern:${service}:${patternId}`,
    )
    if (pattern.error) return <ErrorBox error={pattern.error} what="the pattern" />
    if (!pattern.data) return <Loading what="the pattern" />
    return <PatternView service={service} pattern={pattern.data} />
}

function examples(value: unknown): string[] {
    if (!Array.isArray(value)) return []
    return value.map((item) => (typeof item === 'string' ? item : JSON.stringify(item)))
}

export function PatternView({ service, pattern }: { service: string; pattern: PatternDetail }) {
    const counts = severityCounts(pattern.severity_counts)
    return (
        <div className="page">
            <nav className="crumbs">
                <a href={links.service(service)}>{service}</a> / pattern {pattern.id}
            </nav>
            <h1 className="template-title">
                <code>{pattern.template}</code>
            </h1>
            <KpiRow>
                <Kpi label="Sampling rate" value={pattern.rate === null ? 'not covered' : formatPercent(pattern.rate, 1)} hint={pattern.reason || 'no reason given'} />
                <Kpi label="Lines" value={formatCount(pattern.count)} hint={`${formatDateTime(pattern.first_seen)} → ${formatDateTime(pattern.last_seen)}`} />
                <Kpi label="Bytes" value={formatBytes(pattern.bytes)} hint={`${formatPercent(pattern.share_of_bytes)} of the service`} />
                <Kpi label="Errors" value={formatCount((counts.ERROR ?? 0) + (counts.FATAL ?? 0))} hint="always kept" tone={counts.ERROR || counts.FATAL ? 'bad' : 'neutral'} />
            </KpiRow>
            <Card title="Hourly trend">
                <TrendChart windows={pattern.windows} />
            </Card>
            <div className="grid-2">
                <Card title="Why this rate">
                    <p>
                        <RateBadge rate={pattern.rate} /> {pattern.reason || 'The active policy gives no reason for this pattern.'}
                    </p>
                    <h3>Severity mix</h3>
                    <SeverityMix counts={pattern.severity_counts} />
                    <dl className="facts">
                        {Object.entries(counts).map(([severity, count]) => (
                            <div key={severity}>
                                <dt>{severity}</dt>
                                <dd>{formatCount(count)}</dd>
                            </div>
                        ))}
                    </dl>
                    <p className="muted small">
                        Signatures: {pattern.signatures.length ? pattern.signatures.slice(0, 6).join(', ') : 'none recorded'}
                    </p>
                </Card>
                <Card title="Examples">
                    <ul className="examples" data-testid="examples">
                        {examples(pattern.examples).map((line, i) => (
                            <li key={i}>
                                <code>{line}</code>
                            </li>
                        ))}
                    </ul>
                </Card>
            </div>
        </div>
    )
}
