export type Tone = 'neutral' | 'good' | 'bad'

export function Kpi({
    label,
    value,
    hint,
    basis,
    tone = 'neutral',
}: {
    label: string
    value: string
    hint?: string
    basis?: string
    tone?: Tone
}) {
    return (
        <div className={`kpi kpi-${tone}`} data-testid={`kpi-${label.toLowerCase().replace(/\W+/g, '-')}`}>
            <div className="kpi-label">{label}</div>
            <div className="kpi-value">{value}</div>
            {hint ? <div className="kpi-hint">{hint}</div> : null}
            {basis ? <div className="kpi-basis">{basis}</div> : null}
        </div>
    )
}

export function KpiRow({ children }: { children: React.ReactNode }) {
    return <div className="kpi-row">{children}</div>
}
