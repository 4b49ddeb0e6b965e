import { apiGet } from '../api/client'
import type { TeamInsights } from '../api/types'
import { Card } from '../components/Card'
import { ProjectionChart, ServiceCostChart } from '../components/charts'
import { Kpi, KpiRow } from '../components/Kpi'
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

export function Overview({ insights }: { insights: TeamInsights }) {
    const { cost, projection } = insights
    const currency = cost.currency
    return (
        <div className="page">
            <h1>Log cost for {insights.team}</h1>
            <p className="lede">
                Monthly run rate at the observed volume ({cost.period.observed_days.toFixed(1)} days observed). Errors are always
                kept.
            </p>
            <KpiRow>
                <Kpi label="Without LipService" value={formatMoney(cost.before, currency)} hint={`${formatBytes(cost.bytes_before)} / period`} />
                <Kpi label="With LipService" value={formatMoney(cost.after, currency)} hint={`${formatBytes(cost.bytes_after)} / period`} />
                <Kpi label="Savings" value={formatMoney(cost.savings, currency)} hint={`${formatPercent(cost.savings_share)} of the bill`} tone="good" />
                <Kpi
                    label="Month-end projection"
                    value={formatMoney(projection.month_end_cost, projection.currency)}
                    hint={projection.backtest ? `backtest MAPE ${formatPercent(projection.backtest.mape)}` : projection.method}
                />
            </KpiRow>
            <div className="grid-2">
                <Card title="Daily volume and month-end forecast">
                    <ProjectionChart projection={projection} />
                </Card>
                <Card title="Cost by service (per month)">
                    <ServiceCostChart services={cost.services} currency={currency} />
                </Card>
            </div>
            <Card title="Services">
                <table className="table" data-testid="service-table">
                    <thead>
                        <tr>
                            <th>Service</th>
                            <th className="num">Before</th>
                            <th className="num">After</th>
                            <th className="num">Savings</th>
                            <th className="num">Volume before → after</th>
                        </tr>
                    </thead>
                    <tbody>
                        {cost.services.map((row) => (
                            <tr key={row.service}>
                                <td>
                                    <a href={links.service(row.service)}>{row.service}</a>
                                </td>
                                <td className="num">{formatMoney(row.before, currency)}</td>
                                <td className="num">{formatMoney(row.after, currency)}</td>
                                <td className="num good">{formatMoney(row.savings, currency)}</td>
                                <td className="num">
                                    {formatBytes(row.bytes_before)} → {formatBytes(row.bytes_after)}
                                </td>
                            </tr>
                        ))}
                    </tbody>
                </table>
            </Card>
        </div>
    )
}
