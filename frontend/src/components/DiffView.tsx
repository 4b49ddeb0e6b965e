import type { PolicyDiff } from '../api/types'
import { RateBadge } from './RateBadge'

type Row = Record<string, unknown>

function text(value: unknown): string {
    return typeof value === 'string' ? value : JSON.stringify(value)
}

function rate(value: unknown): number | null {
    return typeof value === 'number' ? value : null
}

function pair(value: unknown): [unknown, unknown] {
    if (Array.isArray(value) && value.length === 2) return [value[0], value[1]]
    if (typeof value === 'object' && value !== null) {
        const v = value as Row
        return [v.from ?? v.old ?? v.before, v.to ?? v.new ?? v.after]
    }
    return [null, value]
}

export function DiffView({ diff }: { diff: PolicyDiff }) {
    if (diff.identical) return <div className="status status-empty">v{diff.from_version} and v{diff.to_version} are identical.</div>
    const severities = Object.entries(diff.severity_rates)
    const fields = Object.entries(diff.changed_fields)
    return (
        <div className="diff" data-testid="policy-diff">
            <h3>
                v{diff.from_version} → v{diff.to_version}
            </h3>
            <ul className="diff-list">
                {severities.map(([severity, change]) => {
                    const [before, after] = pair(change)
                    return (
                        <li key={`s-${severity}`} className="diff-changed">
                            {severity} lines: <RateBadge rate={rate(before)} /> → <RateBadge rate={rate(after)} />
                        </li>
                    )
                })}
                {diff.patterns_changed.map((p, i) => {
                    const changes = (typeof p.changes === 'object' && p.changes !== null ? p.changes : {}) as Row
                    const [before, after] = pair(changes.rate)
                    return (
                        <li key={`c-${i}`} className="diff-changed">
                            <code>{text(p.template ?? p.id)}</code>
                            {'rate' in changes ? (
                                <>
                                    : <RateBadge rate={rate(before)} /> → <RateBadge rate={rate(after)} />
                                </>
                            ) : null}
                            {Object.keys(changes)
                                .filter((k) => k !== 'rate')
                                .map((k) => (
                                    <span key={k} className="muted"> ({k} changed)</span>
                                ))}
                        </li>
                    )
                })}
                {diff.patterns_added.map((p, i) => (
                    <li key={`a-${i}`} className="diff-added">
                        + <code>{text(p.template ?? p.id)}</code> at <RateBadge rate={rate(p.rate)} />
                    </li>
                ))}
                {diff.patterns_removed.map((p, i) => (
                    <li key={`r-${i}`} className="diff-removed">
                        − <code>{text(p.template ?? p.id)}</code>
                    </li>
                ))}
                {fields.map(([field, change]) => {
                    const [before, after] = pair(change)
                    return (
                        <li key={`f-${field}`} className="diff-changed">
                            {field}: <code>{text(before)}</code> → <code>{text(after)}</code>
                        </li>
                    )
                })}
            </ul>
        </div>
    )
}
