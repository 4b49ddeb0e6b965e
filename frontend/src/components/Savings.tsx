// The first screen's story: what the logs cost without LipService, under the policy in force, the saving, the proof
// that the policy does what its simulation promised, and the incidents it kept the lines for.
import type { IncidentDetail, Proof, ServiceRunRate, TeamRunRate } from '../api/types'
import { formatBytes, formatCount, formatDateTime, formatMoney, formatPercent } from '../lib/format'
import { links } from '../lib/links'
import { Kpi, KpiRow } from './Kpi'

const BASIS_LABEL: Record<string, string> = {
    measured: 'measured from SDK counts',
    simulated: 'simulated (not enough SDK counts yet)',
    mixed: 'measured where SDK counts suffice, else simulated',
    unknown: 'no simulation and no SDK counts yet',
    no_policy: 'no policy in force',
}

export function basisLabel(basis: string): string {
    return BASIS_LABEL[basis] ?? basis
}

export function DemoBanner({ demo }: { demo: boolean }) {
    if (!demo) return null
    return (
        <div className="demo-banner" data-testid="demo-banner" role="note">
            <strong>Demo data.</strong> Generated logs of a small shop (three services) at production rates, priced with a tiered
            $/GB table; the SDK&apos;s decision was replayed over the last week in place of a running application.
        </div>
    )
}

export function RunRateCards({ rate }: { rate: TeamRunRate | ServiceRunRate }) {
    const currency = rate.currency
    return (
        <KpiRow>
            <Kpi
                label="Without LipService"
                value={formatMoney(rate.without, currency)}
                hint={`per month · ${formatBytes(rate.without_bytes)}`}
                basis={rate.without_basis}
            />
            <Kpi
                label="Under the policy in force"
                value={formatMoney(rate.with_policy, currency)}
                hint={`per month · ${formatBytes(rate.with_policy_bytes)} · ${basisLabel(rate.policy_basis)}`}
                basis={rate.with_policy_basis}
            />
            <Kpi
                label="Savings"
                value={formatMoney(rate.saving, currency)}
                hint={`per month · ${formatPercent(rate.saving_share)} of the bill`}
                basis={`${formatMoney(rate.without, currency)} − ${formatMoney(rate.with_policy, currency)} per month`}
                tone="good"
            />
            <Kpi
                label="Saved this month"
                value={formatMoney(rate.saved_this_month, currency)}
                hint={`${formatBytes(rate.saved_this_month_bytes)} not sent`}
                basis={rate.saved_this_month_basis}
                tone="good"
            />
        </KpiRow>
    )
}

function Band({ proof }: { proof: Proof }) {
    if (proof.band_low === null || proof.band_high === null) return <span className="muted">no simulation</span>
    return (
        <span>
            {formatPercent(proof.band_low)}–{formatPercent(proof.band_high)}
        </span>
    )
}

function Verdict({ proof }: { proof: Proof }) {
    if (proof.drift) return <span className="pill pill-critical" data-testid="drift">drifted outside the band</span>
    if (proof.agrees) return <span className="pill pill-good">agrees</span>
    return <span className="pill pill-info">waiting for SDK counts</span>
}

// What the policy kept but the SDKs could not deliver, as they reported it; nothing when nothing was lost.
export function DeliveryLosses({ proof }: { proof: Proof }) {
    const notes = [
        proof.errors_lost > 0 ? `${formatCount(proof.errors_lost)} kept errors lost in delivery` : null,
        proof.lines_shed > 0 ? `${formatCount(proof.lines_shed)} lines shed by a full export queue` : null,
        proof.lines_lost > 0 ? `${formatCount(proof.lines_lost)} other lines lost in delivery` : null,
        proof.spool_files_corrupt > 0 ? `${formatCount(proof.spool_files_corrupt)} damaged spool files discarded` : null,
    ].filter((note): note is string => note !== null)
    if (notes.length === 0) return null
    return (
        <div className="small bad" data-testid="delivery-losses">
            {notes.map((note) => (
                <div key={note}>{note}</div>
            ))}
        </div>
    )
}

export function ProofTable({ rows }: { rows: (Proof & { service?: string })[] }) {
    if (rows.length === 0) return <div className="status status-empty">No policy in force yet: nothing to check.</div>
    const withService = rows.some((row) => row.service !== undefined)
    return (
        <table className="table" data-testid="proof">
            <thead>
                <tr>
                    {withService ? <th>Service</th> : null}
                    <th>Policy</th>
                    <th className="num">Predicted reduction</th>
                    <th className="num">Measured since publishing</th>
                    <th className="num">Agreement band</th>
                    <th />
                    <th className="num">Errors seen → kept</th>
                    <th className="num">Patterns with a kept line</th>
                </tr>
            </thead>
            <tbody>
                {rows.map((proof) => (
                    <tr key={`${proof.service ?? ''}:${proof.policy_version}`} data-testid="proof-row">
                        {withService && proof.service !== undefined ? (
                            <td>
                                <a href={links.service(proof.service)}>{proof.service}</a>
                            </td>
                        ) : null}
                        <td>
                            v{proof.policy_version}
                            <div className="muted small">
                                since {formatDateTime(proof.since)} · {proof.sdk_hours} h of SDK counts
                            </div>
                        </td>
                        <td className="num">{formatPercent(proof.predicted_reduction)}</td>
                        <td className="num">
                            {formatPercent(proof.measured_reduction)}
                            <div className="muted small">
                                {formatBytes(proof.bytes_kept)} kept of {formatBytes(proof.bytes_seen)}
                            </div>
                        </td>
                        <td className="num">
                            <Band proof={proof} />
                        </td>
                        <td>
                            <Verdict proof={proof} />
                        </td>
                        <td className={`num ${proof.errors_kept < proof.errors_seen || proof.errors_lost > 0 ? 'bad' : 'good'}`}>
                            {formatCount(proof.errors_seen)} → {formatCount(proof.errors_kept)}
                            <DeliveryLosses proof={proof} />
                        </td>
                        <td className="num">
                            {proof.patterns_kept} / {proof.patterns_reported}
                        </td>
                    </tr>
                ))}
            </tbody>
        </table>
    )
}

export function IncidentList({
    incidents,
    showService = true,
    compact = false,
}: {
    incidents: IncidentDetail[]
    showService?: boolean
    compact?: boolean
}) {
    if (incidents.length === 0) return <div className="status status-empty">No incidents in the last 7 days.</div>
    return (
        <ul className="incident-list" data-testid="incidents">
            {incidents.map((incident) => (
                <li key={incident.id} data-testid="incident">
                    <div>
                        <span className={`pill pill-${incident.severity.toLowerCase()}`}>{incident.severity}</span>{' '}
                        {showService ? (
                            <a href={links.service(incident.service)}>
                                <strong>{incident.service}</strong>
                            </a>
                        ) : null}{' '}
                        <span className="muted">
                            {formatDateTime(incident.window_start)} → {formatDateTime(incident.window_end)} · {incident.anomalies.length}{' '}
                            anomalies grouped · {incident.status}
                        </span>
                    </div>
                    {compact ? (
                        <div className="small" data-testid="alert-preview">
                            <span className="muted">{incident.alert.would_send ? 'Alert that would have gone out: ' : 'Alerted: '}</span>
                            {incident.alert.summary}{' '}
                            <a href={links.service(incident.service)}>explanation →</a>
                        </div>
                    ) : (
                        <ExplanationView incident={incident} />
                    )}
                </li>
            ))}
        </ul>
    )
}

function strings(value: unknown): string[] {
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []
}

function ExplanationView({ incident }: { incident: IncidentDetail }) {
    const explanation = (incident.explanation ?? {}) as Record<string, unknown>
    const changed = strings(explanation.what_changed)
    const { alert } = incident
    return (
        <div className="incident-explanation" data-testid="incident-explanation">
            {changed.length ? (
                <>
                    <div className="small muted">What changed</div>
                    <ul className="small">
                        {changed.slice(0, 5).map((line) => (
                            <li key={line}>{line}</li>
                        ))}
                    </ul>
                </>
            ) : null}
            <div className="alert-preview" data-testid="alert-preview">
                <div className="small muted">
                    {alert.would_send
                        ? 'The alert that would have gone out (no alert channel is set up for this service)'
                        : `Alerted ${alert.channels.join(', ')}${alert.deliveries.length ? ` · ${alert.deliveries.map((d) => `${d.channel}: ${d.status}`).join(', ')}` : ''}`}
                </div>
                <div className="alert-summary">{alert.summary}</div>
                {alert.likely_causes.length ? (
                    <>
                        <div className="small muted">Likely causes</div>
                        <ul className="small">
                            {alert.likely_causes.map((cause) => (
                                <li key={cause}>{cause}</li>
                            ))}
                        </ul>
                    </>
                ) : null}
                {alert.debugging_steps.length ? (
                    <>
                        <div className="small muted">Next steps</div>
                        <ol className="small">
                            {alert.debugging_steps.map((step) => (
                                <li key={step}>{step}</li>
                            ))}
                        </ol>
                    </>
                ) : null}
            </div>
        </div>
    )
}
