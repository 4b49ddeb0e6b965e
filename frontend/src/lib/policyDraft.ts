// A policy being edited: pure functions over the generated PolicyDocument type, so the editor stays declarative.
import type { PatternRule, PolicyDocument } from '../api/types'

export const EDITABLE_SEVERITIES = ['TRACE', 'DEBUG', 'INFO', 'WARN'] as const
export const ALWAYS_KEPT = ['ERROR', 'FATAL'] as const
export type EditableSeverity = (typeof EDITABLE_SEVERITIES)[number]

export interface RateChange {
    key: string
    label: string
    before: number | null
    after: number | null
}

export function clampRate(value: number): number {
    if (!Number.isFinite(value)) return 0
    return Math.min(1, Math.max(0, Math.round(value * 10000) / 10000))
}

export function withSeverityRate(document: PolicyDocument, severity: EditableSeverity, rate: number): PolicyDocument {
    return { ...document, severity_rates: { ...(document.severity_rates ?? {}), [severity]: clampRate(rate) } }
}

export function withPatternRate(document: PolicyDocument, patternId: string, rate: number): PolicyDocument {
    const patterns = (document.patterns ?? []).map((rule) =>
        rule.id === patternId ? { ...rule, rate: clampRate(rate) } : rule,
    )
    return { ...document, patterns }
}

export function withDefaultRate(document: PolicyDocument, rate: number): PolicyDocument {
    return { ...document, default_rate: clampRate(rate) }
}

/** What a publish sends: identity fields are the server's to assign, so they are left out. */
export function publishable(document: PolicyDocument, actor: string): Record<string, unknown> {
    const { version: _version, etag: _etag, generated_at: _at, ...rest } = document
    return { ...rest, generated_by: `user:${actor}` }
}

function ruleMap(document: PolicyDocument): Map<string, PatternRule> {
    return new Map((document.patterns ?? []).map((rule) => [rule.id, rule]))
}

/** Rate changes from `base` to `draft`, severities first, then patterns in the draft's order. */
export function rateChanges(base: PolicyDocument, draft: PolicyDocument): RateChange[] {
    const changes: RateChange[] = []
    for (const severity of EDITABLE_SEVERITIES) {
        const before = base.severity_rates?.[severity] ?? null
        const after = draft.severity_rates?.[severity] ?? null
        if (before !== after) changes.push({ key: `severity:${severity}`, label: `${severity} lines`, before, after })
    }
    if ((base.default_rate ?? 1) !== (draft.default_rate ?? 1)) {
        changes.push({ key: 'default', label: 'Default rate', before: base.default_rate ?? 1, after: draft.default_rate ?? 1 })
    }
    const before = ruleMap(base)
    const after = ruleMap(draft)
    for (const [id, rule] of after) {
        const old = before.get(id)
        if (!old || old.rate !== rule.rate) {
            changes.push({ key: `pattern:${id}`, label: rule.template, before: old?.rate ?? null, after: rule.rate })
        }
    }
    for (const [id, rule] of before) {
        if (!after.has(id)) changes.push({ key: `pattern:${id}`, label: rule.template, before: rule.rate, after: null })
    }
    return changes
}

/** Maps a validation path such as `$.patterns[3].rate` to the editor field it concerns. */
export function fieldForIssuePath(document: PolicyDocument, path: string): string | null {
    const severity = path.match(/^\$\.severity_rates\.([A-Z]+)/)
    if (severity?.[1]) return `severity:${severity[1]}`
    const pattern = path.match(/^\$\.patterns\[(\d+)\]/)
    if (pattern?.[1]) {
        const rule = document.patterns?.[Number(pattern[1])]
        return rule ? `pattern:${rule.id}` : null
    }
    if (path.startsWith('$.default_rate')) return 'default'
    return null
}
