import { useState } from 'react'

import { apiGet, apiPost } from '../api/client'
import type { PolicyDiff, PolicyVersion } from '../api/types'
import { formatDateTime } from '../lib/format'
import { useApi } from '../lib/useApi'
import { DiffView } from './DiffView'
import { ErrorBox, Loading } from './Status'

export function PolicyHistory({ service, onChanged }: { service: string; onChanged?: () => void }) {
    const history = useApi((signal) => apiGet('/api/v1/policies/{service}/history', { service }, {}, signal), `history:${service}`)
    const [selected, setSelected] = useState<number | null>(null)
    const [message, setMessage] = useState<string | null>(null)

    if (history.error) return <ErrorBox error={history.error} what="policy history" />
    if (!history.data) return <Loading what="policy history" />
    const versions = history.data
    if (versions.length === 0) return <div className="status status-empty">No policy has been published yet.</div>

    const rollback = async (version: PolicyVersion) => {
        if (!window.confirm(`Republish version ${version.number} as the active policy?`)) return
        try {
            const created = await apiPost('/api/v1/policies/{service}/rollback', { service }, { version: version.number })
            setMessage(`Version ${version.number} republished as version ${created.number}.`)
            history.reload()
            onChanged?.()
        } catch (error) {
            setMessage(`Rollback failed: ${error instanceof Error ? error.message : String(error)}`)
        }
    }

    return (
        <div className="history" data-testid="policy-history">
            {message ? <div className="notice">{message}</div> : null}
            <table className="table">
                <thead>
                    <tr>
                        <th>Version</th>
                        <th>Status</th>
                        <th>By</th>
                        <th>Created</th>
                        <th>Reasoning</th>
                        <th />
                    </tr>
                </thead>
                <tbody>
                    {versions.map((v, index) => {
                        const previous = versions[index + 1]
                        return (
                            <tr key={v.number} className={selected === v.number ? 'selected' : undefined}>
                                <td>v{v.number}</td>
                                <td>
                                    <span className={`pill pill-${v.status ?? 'proposed'}`}>{v.status}</span>
                                </td>
                                <td>{v.created_by || v.generated_by}</td>
                                <td>{formatDateTime(v.created_at)}</td>
                                <td className="reason">{v.reasoning || v.fallback_reason || '—'}</td>
                                <td className="actions">
                                    {previous ? (
                                        <button type="button" className="link" onClick={() => setSelected(selected === v.number ? null : v.number)}>
                                            {selected === v.number ? 'Hide diff' : `Diff from v${previous.number}`}
                                        </button>
                                    ) : null}
                                    {v.status !== 'active' ? (
                                        <button type="button" className="link" onClick={() => void rollback(v)}>
                                            Roll back to this
                                        </button>
                                    ) : null}
                                </td>
                            </tr>
                        )
                    })}
                </tbody>
            </table>
            {selected !== null ? <VersionDiff service={service} to={selected} versions={versions} /> : null}
        </div>
    )
}

function VersionDiff({ service, to, versions }: { service: string; to: number; versions: PolicyVersion[] }) {
    const index = versions.findIndex((v) => v.number === to)
    const from = versions[index + 1]?.number ?? to
    const diff = useApi<PolicyDiff>(
        (signal) => apiGet('/api/v1/policies/{service}/diff', { service }, { from, to }, signal),
        `diff:${service}:${from}:${to}`,
    )
    if (diff.error) return <ErrorBox error={diff.error} what="the diff" />
    if (!diff.data) return <Loading what="the diff" />
    return <DiffView diff={diff.data} />
}
