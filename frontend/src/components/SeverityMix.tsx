const ORDER = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const

export function severityCounts(value: unknown): Record<string, number> {
    if (typeof value !== 'object' || value === null) return {}
    const counts: Record<string, number> = {}
    for (const [key, count] of Object.entries(value as Record<string, unknown>)) {
        if (typeof count === 'number' && count > 0) counts[key.toUpperCase()] = count
    }
    return counts
}

export function SeverityMix({ counts }: { counts: unknown }) {
    const parsed = severityCounts(counts)
    const total = Object.values(parsed).reduce((a, b) => a + b, 0)
    if (total === 0) return <span className="muted">—</span>
    return (
        <div className="severity-mix" aria-label="severity mix">
            {ORDER.filter((s) => parsed[s]).map((s) => (
                <span key={s} className={`sev sev-${s.toLowerCase()}`} style={{ flexGrow: parsed[s] ?? 0 }} title={`${s}: ${parsed[s]}`} />
            ))}
        </div>
    )
}
