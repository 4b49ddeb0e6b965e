import { apiGet } from '../api/client'
import type { Projection, TeamInsights } from '../api/types'
import { Card } from '../components/Card'
import { ProjectionChart } from '../components/charts'
import { DemoBanner, IncidentList, ProofTable, RunRateCards, basisLabel } from '../components/Savings'
import { ErrorBox, Loading } from '../components/Status'
import { formatBytes, formatMoney, formatPercent } from '../lib/format'
import { links } from '../lib/links'
import { useApi } from '../lib/useApi'

export function OverviewPage() {
    const insights = useApi((signal) => apiGet('/api/v1/insights', {}, {}, signal), 'team')
    if (insights.error) return <ErrorBox error={insights.error} what="team insights" />
    if (!insights.data) return <Loading what="team insights" />
    return <Overview insights={insights.data} />
}

export function ProjectionNote({ projection }: { projection: Projection }) {
    const currency = projection.currency
    return (
        <div className="projection-note" data-testid="projection-note">
            Month-end: <strong>{formatMoney(projection.month_end_cost, currency)}</strong> ({formatBytes(projection.month_end_bytes)}) under
            the policy in force, keeping {formatPercent(projection.keep_share)} ({basisLabel(projection.keep_basis)}), against{' '}
            <strong>{formatMoney(projection.counterfactual_cost, currency)}</strong> ({formatBytes(projection.counterfactual_bytes)}) without
            LipService.{' '}
            {projection.backtest
                ? `Backtest on the ${projection.backtest_scope}: MAPE ${formatPercent(projection.backtest.mape)} over ${projection.backtest.points} day(s), ${projection.backtest.horizon_days}-day horizon.`
                : `No backtest yet (${projection.backtest_scope}).`}
        </div>
    )
}

export function Overview({ insights }: { insights: TeamInsights }) {
    const { run_rate: rate, projection } = insights
    const currency = rate.currency
    return (
        <div className="page">
            <DemoBanner demo={insights.demo} />
            <h1>Log cost for {insights.team}</h1>
            <p className="lede">
                Monthly run-rates: what the logs cost without LipService, and under the policies now in force. Errors are always kept.
            </p>
            <RunRateCards rate={rate} />
            <Card title="Predicted against measured">
                <ProofTable rows={insights.proof} />
            </Card>
            <Card title="Incidents (last 7 days)">
                <IncidentList incidents={insights.incidents} compact />
            </Card>
            <div className="grid-2">
                <Card title="Daily volume and month-end forecast">
                    <ProjectionChart projection={projection} />
                    <ProjectionNote projection={projection} />
                </Card>
                <Card title="Services">
                    <table className="table" data-testid="service-table">
                        <thead>
                            <tr>
                                <th>Service</th>
                                <th className="num">Without</th>
                                <th className="num">Under policy</th>
                                <th className="num">Savings / month</th>
                                <th className="num">Volume / month</th>
                            </tr>
                        </thead>
                        <tbody>
                            {rate.services.map((row) => (
                                <tr key={row.service}>
                                    <td>
                                        <a href={links.service(row.service)}>{row.service}</a>
                                        <div className="muted small">{basisLabel(row.policy_basis)}</div>
                                    </td>
                                    <td className="num">{formatMoney(row.without, currency)}</td>
                                    <td className="num">{formatMoney(row.with_policy, currency)}</td>
                                    <td className="num good">
                                        {formatMoney(row.saving, currency)}
                                        <div className="small">{formatPercent(row.saving_share)}</div>
                                    </td>
                                    <td className="num">
                                        {formatBytes(row.without_bytes)} → {formatBytes(row.with_policy_bytes)}
                                    </td>
                                </tr>
                            ))}
                        </tbody>
                    </table>
                </Card>
            </div>
        </div>
    )
}
