import { useEffect, useState } from 'react'

/** A rate edited as a percentage: a slider for feel, a number box for precision. */
export function RateInput({
    value,
    onChange,
    label,
    invalid,
    disabled,
}: {
    value: number
    onChange: (rate: number) => void
    label: string
    invalid?: boolean
    disabled?: boolean
}) {
    const [text, setText] = useState(formatPercentInput(value))
    useEffect(() => setText(formatPercentInput(value)), [value])
    const commit = (raw: string) => {
        const parsed = Number.parseFloat(raw)
        if (Number.isFinite(parsed)) onChange(parsed / 100)
        else setText(formatPercentInput(value))
    }
    return (
        <div className={`rate-input${invalid ? ' invalid' : ''}`}>
            <input
                type="range"
                min={0}
                max={100}
                step={0.5}
                value={value * 100}
                aria-label={`${label} slider`}
                disabled={disabled}
                onChange={(e) => onChange(Number(e.target.value) / 100)}
            />
            <input
                type="number"
                min={0}
                max={100}
                step="any"
                value={text}
                aria-label={label}
                disabled={disabled}
                onChange={(e) => setText(e.target.value)}
                onBlur={(e) => commit(e.target.value)}
                onKeyDown={(e) => {
                    if (e.key === 'Enter') commit((e.target as HTMLInputElement).value)
                }}
            />
            <span className="unit">%</span>
        </div>
    )
}

function formatPercentInput(rate: number): string {
    return String(Math.round(rate * 100 * 100) / 100)
}
