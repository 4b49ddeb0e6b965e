import { useEffect, useMemo, useState } from 'react'

import { apiGet, apiPost, apiPostUnlisted } from '../api/client'
import type { PatternOutput, PolicyDocument, PolicyIssue, PolicyVersionDetail, SimulationReport } from '../api/types'
import { SIMULATE_PATH } from '../api/types'
import { Card } from '../components/Card'
import { PolicyHistory } from '../components/PolicyHistory'
import { RateBadge } from '../components/RateBadge'
import { RateInput } from '../components/RateInput'
import { SimulationView } from '../components/SimulationView'
import { ErrorBox, Loading } from '../components/Status'
import { formatBytes } from '../lib/format'
import { links } from '../lib/links'
import {
    ALWAYS_KEPT,
    EDITABLE_SEVERITIES,
    fieldForIssuePath,
    publishable,
    rateChanges,
    withDefaultRate,
    withPatternRate,
    withSeverityRate,
} from '../lib/policyDraft'
import { useApi } from '../lib/useApi'

interface Loaded {
    active: PolicyVersionDetail | null
    start: PolicyVersionDetail | null
    patterns: PatternOutput[]
}

async function loadEditor(service: string, version: number | null, signal: AbortSignal): Promise<Loaded> {
    const [history, patterns] = await Promise.all([
        apiGet('/api/v1/policies/{service}/history', { service }, {}, signal),
        apiGet('/api/v1/patterns/{service}', { service }, { limit: 500 }, signal),
    ])
    const activeNumber = history.find((v) => v.status === 'active')?.number ?? null
    const fetchVersion = (number: number) => apiGet('/api/v1/policies/{service}/versions/{number}', { service, number }, {}, signal)
    const active = activeNumber === null ? null : await fetchVersion(activeNumber)
    const start = version === null || version === activeNumber ? active : await fetchVersion(version)
    return { active, start, patterns: patterns.results }
}

export function PolicyEditorPage({ service, version, actor }: { service: string; version: number | null; actor: string }) {
    const loaded = useApi((signal) => loadEditor(service, version, signal), `editor:${service}:${version ?? 'active'}`)
    if (loaded.error) return <ErrorBox error={loaded.error} what="the policy" />
    if (!loaded.data) return <Loading what="the policy" />
    const base = loaded.data.start ?? loaded.data.active
    if (!base) {
        return (
            <div className="status status-empty">
                {service} has no policy yet. Run an analysis (or <code>manage.py load_demo</code>) so the rule generator proposes one.
            </div>
        )
    }
    return <Editor key={`${base.number}`} service={service} actor={actor} loaded={loaded.data} base={base} onPublished={loaded.reload} />
}

function Editor({
    service,
    actor,
    loaded,
    base,
    onPublished,
}: {
    service: string
    actor: string
    loaded: Loaded
    base: PolicyVersionDetail
    onPublished: () => void
}) {
    const [draft, setDraft] = useState<PolicyDocument>(base.document)
    const [issues, setIssues] = useState<PolicyIssue[]>([])
    const [validating, setValidating] = useState(false)
    const [simulation, setSimulation] = useState<SimulationReport | null>(null)
    const [simulationError, setSimulationError] = useState<string | null>(null)
    const [simulating, setSimulating] = useState(false)
    const [message, setMessage] = useState<string | null>(null)
    const [filter, setFilter] = useState('')
    const activeDocument = loaded.active?.document ?? base.document
    const changes = useMemo(() => rateChanges(activeDocument, draft), [activeDocument, draft])

    useEffect(() => {
        setValidating(true)
        const timer = window.setTimeout(() => {
            apiPost('/api/v1/policies/{service}/validate', { service }, { document: publishable(draft, actor) })
                .then((result) => setIssues(result.errors))
                .catch((error: unknown) =>
                    setIssues([{ path: '$', code: 'unavailable', message: `validation failed: ${error instanceof Error ? error.message : String(error)}` }]),
                )
                .finally(() => setValidating(false))
        }, 350)
        setSimulation(null)
        return () => window.clearTimeout(timer)
    }, [draft, service, actor])

    const issuesByField = useMemo(() => {
        const map = new Map<string, PolicyIssue[]>()
        for (const issue of issues) {
            const field = fieldForIssuePath(draft, issue.path) ?? 'general'
            map.set(field, [...(map.get(field) ?? []), issue])
        }
        return map
    }, [issues, draft])

    const simulate = async () => {
        setSimulating(true)
        setSimulationError(null)
        try {
            setSimulation(await apiPostUnlisted<SimulationReport>(SIMULATE_PATH, { service }, { document: publishable(draft, actor) }))
        } catch (error) {
            setSimulationError(error instanceof Error ? error.message : String(error))
        } finally {
            setSimulating(false)
        }
    }

    const publish = async () => {
        if (!window.confirm(`Publish this policy for ${service}? SDKs pick it up within a minute.`)) return
        try {
            const created = await apiPost('/api/v1/policies/{service}', { service }, { document: publishable(draft, actor), activate: true })
            setMessage(`Published version ${created.number}.`)
            onPublished()
        } catch (error) {
            setMessage(`Publish refused: ${error instanceof Error ? error.message : String(error)}`)
        }
    }

    const stats = new Map(loaded.patterns.map((p) => [p.id, p]))
    const rules = [...(draft.patterns ?? [])]
        .filter((rule) => !filter || rule.template.toLowerCase().includes(filter.toLowerCase()) || rule.id.includes(filter))
        .sort((a, b) => (stats.get(b.id)?.bytes ?? 0) - (stats.get(a.id)?.bytes ?? 0))
    const valid = issues.length === 0 && !validating
    const general = issuesByField.get('general') ?? []

    return (
        <div className="page editor" data-testid="policy-editor">
            <div className="page-title">
                <h1>
                    Policy for <a href={links.service(service)}>{service}</a>
                </h1>
                <div className="toolbar">
                    <span className={`validity ${validating ? 'pending' : valid ? 'ok' : 'bad'}`} data-testid="validity">
                        {validating ? 'Checking…' : valid ? 'Passes the safety checker' : `${issues.length} problem(s)`}
                    </span>
                    <button type="button" onClick={() => void simulate()} disabled={simulating}>
                        {simulating ? 'Simulating…' : 'Simulate'}
                    </button>
                    <button type="button" className="primary" onClick={() => void publish()} disabled={!valid || changes.length === 0}>
                        Publish
                    </button>
                </div>
            </div>
            <p className="lede">
                Editing from v{base.number}
                {loaded.active && loaded.active.number !== base.number ? ` (active is v${loaded.active.number})` : ' (active)'}. ERROR and
                FATAL lines are always kept.
            </p>
            {message ? <div className="notice" data-testid="editor-message">{message}</div> : null}
            {general.length ? (
                <ul className="issues" role="alert">
                    {general.map((issue, i) => (
                        <li key={i}>
                            <code>{issue.path}</code> {issue.message}
                        </li>
                    ))}
                </ul>
            ) : null}
            <div className="grid-2">
                <Card title="Severity rates">
                    <table className="table compact">
                        <tbody>
                            {EDITABLE_SEVERITIES.map((severity) => {
                                const field = `severity:${severity}`
                                const fieldIssues = issuesByField.get(field) ?? []
                                return (
                                    <tr key={severity}>
                                        <th>{severity}</th>
                                        <td>
                                            <RateInput
                                                label={`${severity} rate`}
                                                value={draft.severity_rates?.[severity] ?? draft.default_rate ?? 1}
                                                invalid={fieldIssues.length > 0}
                                                onChange={(rate) => setDraft((d) => withSeverityRate(d, severity, rate))}
                                            />
                                            <FieldIssues issues={fieldIssues} />
                                        </td>
                                    </tr>
                                )
                            })}
                            {ALWAYS_KEPT.map((severity) => (
                                <tr key={severity}>
                                    <th>{severity}</th>
                                    <td>
                                        <RateBadge rate={1} /> <span className="muted small">always kept</span>
                                    </td>
                                </tr>
                            ))}
                            <tr>
                                <th>Default</th>
                                <td>
                                    <RateInput label="Default rate" value={draft.default_rate ?? 1} onChange={(rate) => setDraft((d) => withDefaultRate(d, rate))} />
                                    <FieldIssues issues={issuesByField.get('default') ?? []} />
                                </td>
                            </tr>
                        </tbody>
                    </table>
                </Card>
                <Card title={`Changes against the active version (${changes.length})`}>
                    {changes.length === 0 ? (
                        <div className="status status-empty">No changes yet.</div>
                    ) : (
                        <ul className="diff-list" data-testid="draft-diff">
                            {changes.map((change) => (
                                <li key={change.key} className="diff-changed">
                                    <code>{change.label}</code>: <RateBadge rate={change.before} /> → <RateBadge rate={change.after} />
                                </li>
                            ))}
                        </ul>
                    )}
                    <button type="button" className="link" onClick={() => setDraft(base.document)} disabled={changes.length === 0}>
                        Discard changes
                    </button>
                </Card>
            </div>
            {simulation || simulationError ? (
                <Card title="Simulation over recent history">
                    {simulationError ? <div className="status status-error">Simulation unavailable: {simulationError}</div> : null}
                    {simulation ? <SimulationView report={simulation} /> : null}
                </Card>
            ) : null}
            <Card
                title={`Pattern rates (${draft.patterns?.length ?? 0})`}
                actions={<input type="search" placeholder="Filter patterns" value={filter} onChange={(e) => setFilter(e.target.value)} aria-label="Filter patterns" />}
            >
                <table className="table" data-testid="pattern-rates">
                    <thead>
                        <tr>
                            <th>Pattern</th>
                            <th className="num">Bytes</th>
                            <th>Rate</th>
                            <th>Reason</th>
                        </tr>
                    </thead>
                    <tbody>
                        {rules.map((rule) => {
                            const field = `pattern:${rule.id}`
                            const fieldIssues = issuesByField.get(field) ?? []
                            return (
                                <tr key={rule.id} className={fieldIssues.length ? 'invalid-row' : undefined}>
                                    <td className="template">
                                        <a href={links.pattern(service, rule.id)}>
                                            <code>{rule.template}</code>
                                        </a>
                                    </td>
                                    <td className="num">{formatBytes(stats.get(rule.id)?.bytes)}</td>
                                    <td>
                                        <RateInput
                                            label={`Rate for ${rule.id}`}
                                            value={rule.rate}
                                            invalid={fieldIssues.length > 0}
                                            onChange={(rate) => setDraft((d) => withPatternRate(d, rule.id, rate))}
                                        />
                                        <FieldIssues issues={fieldIssues} />
                                    </td>
                                    <td className="reason">{rule.reason || '—'}</td>
                                </tr>
                            )
                        })}
                    </tbody>
                </table>
            </Card>
            <Card title="History and rollback">
                <PolicyHistory service={service} onChanged={onPublished} />
            </Card>
        </div>
    )
}

function FieldIssues({ issues }: { issues: PolicyIssue[] }) {
    if (issues.length === 0) return null
    return (
        <ul className="field-issues" role="alert">
            {issues.map((issue, i) => (
                <li key={i}>{issue.message}</li>
            ))}
        </ul>
    )
}
