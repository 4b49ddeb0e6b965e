import { apiGet } from '../api/client'
import type { Anomaly, Recommendation, ServiceInsights } from '../api/types'
import { Card } from '../components/Card'
import { AnomalyTimeline, ProjectionChart } from '../components/charts'
import { PatternTable } from '../components/PatternTable'
import { PolicyHistory } from '../components/PolicyHistory'
import { RateBadge } from '../components/RateBadge'
import { DemoBanner, IncidentList, ProofTable, RunRateCards } from '../components/Savings'
import { ErrorBox, Loading } from '../components/Status'
import { formatDateTime, formatMoney, formatPercent } from '../lib/format'
import { ProjectionNote } from './OverviewPage'
import { links } from '../lib/links'
import { useApi } from '../lib/useApi'

const TOP_PATTERNS = 25

export function ServicePage({ service }: { service: string }) {
    const insights = useApi((signal) => apiGet('/api/v1/insights/{service}', { service }, {}, signal), `insights:${service}`)
    const patterns = useApi(
        (signal) => apiGet('/api/v1/patterns/{service}', { service }, { limit: TOP_PATTERNS }, signal),
        `patterns:${service}`,
    )
    return (
        <div className="page">
            <div className="page-title">
                <h1>{service}</h1>
                <a className="button" href={links.editor(service)}>
                    Edit policy
                </a>
            </div>
            {insights.error ? <ErrorBox error={insights.error} what="service insights" /> : null}
            {insights.data ? <ServiceSummary insights={insights.data} /> : insights.error ? null : <Loading what="service insights" />}
            <Card title={`Top patterns by bytes${patterns.data ? ` (${patterns.data.count} in all)` : ''}`}>
                {patterns.error ? <ErrorBox error={patterns.error} what="patterns" /> : null}
                {patterns.data ? <PatternTable service={service} patterns={patterns.data.results} /> : patterns.error ? null : <Loading what="patterns" />}
            </Card>
            {insights.data ? (
                <div className="grid-2">
                    <Card title="Anomalies">
                        <AnomalyTimeline anomalies={insights.data.anomalies} />
                        <AnomalyList anomalies={insights.data.anomalies} service={service} />
                    </Card>
                    <Card title="Recommendations">
                        <Recommendations items={insights.data.recommendations} currency={insights.data.cost.currency} />
                    </Card>
                </div>
            ) : null}
            <Card title="Policy history">
                <PolicyHistory service={service} onChanged={insights.reload} />
            </Card>
        </div>
    )
}

function ServiceSummary({ insights }: { insights: ServiceInsights }) {
    const { projection } = insights
    return (
        <>
            <DemoBanner demo={insights.demo} />
            <RunRateCards rate={insights.run_rate} />
            <Card title="Predicted against measured">
                <ProofTable rows={insights.proof ? [insights.proof] : []} />
            </Card>
            <Card title="Incidents">
                <IncidentList incidents={insights.incidents} showService={false} />
            </Card>
            <Card title="Daily volume and month-end forecast">
                <ProjectionChart projection={projection} />
                <ProjectionNote projection={projection} />
            </Card>
        </>
    )
}

function AnomalyList({ anomalies, service }: { anomalies: Anomaly[]; service: string }) {
    if (anomalies.length === 0) return null
    return (
        <ul className="anomaly-list" data-testid="anomaly-list">
            {anomalies.slice(0, 8).map((a) => (
                <li key={a.id}>
                    <span className={`pill pill-${a.severity.toLowerCase()}`}>{a.severity}</span> {a.kind.replace(/_/g, ' ')}{' '}
                    {a.pattern ? (
                        <a href={links.pattern(service, a.pattern)}>
                            <code>{a.template ?? a.pattern}</code>
                        </a>
                    ) : null}
                    <span className="muted">
                        {' '}
                        {formatDateTime(a.window_start)} · observed {a.observed.toFixed(0)} vs expected {a.expected.toFixed(0)} ·
                        confidence {formatPercent(a.confidence, 0)}
                    </span>
                    {a.incident ? <div className="muted small">{a.incident.title}</div> : null}
                </li>
            ))}
        </ul>
    )
}

function Recommendations({ items, currency }: { items: Recommendation[]; currency: string }) {
    if (items.length === 0) return <div className="status status-empty">Nothing to recommend: the policy is already tight.</div>
    return (
        <ul className="recommendations" data-testid="recommendations">
            {items.slice(0, 8).map((r) => (
                <li key={r.pattern}>
                    <code>{r.template}</code>
                    <div>
                        <RateBadge rate={r.current_rate} /> → <RateBadge rate={r.suggested_rate} /> saves{' '}
                        <strong>{formatMoney(r.savings_per_month, currency)}</strong>/month
                    </div>
                    <div className="muted small">{r.message}</div>
                </li>
            ))}
        </ul>
    )
}
