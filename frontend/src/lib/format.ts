// Number and date formatting for a cost dashboard: compact, unit-bearing, never "NaN".

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB']

export function formatBytes(bytes: number | null | undefined): string {
    if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—'
    let value = Math.abs(bytes)
    let unit = 0
    while (value >= 1000 && unit < UNITS.length - 1) {
        value /= 1000
        unit += 1
    }
    const digits = value >= 100 || unit === 0 ? 0 : value >= 10 ? 1 : 2
    return `${bytes < 0 ? '-' : ''}${value.toFixed(digits)} ${UNITS[unit]}`
}

// Money for its size: whole units from 100, cents from 0.01, and below a cent two significant digits (a figure that
// is the point of a card never reads "<$0.01").
export function formatMoney(amount: number | null | undefined, currency = 'USD'): string {
    if (amount === null || amount === undefined || !Number.isFinite(amount)) return '—'
    const size = Math.abs(amount)
    if (size !== 0 && size < 0.01) {
        return new Intl.NumberFormat('en-US', { style: 'currency', currency, maximumSignificantDigits: 2 }).format(amount)
    }
    const digits = size >= 100 ? 0 : 2
    return new Intl.NumberFormat('en-US', {
        style: 'currency',
        currency,
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
    }).format(amount)
}

export function formatPercent(share: number | null | undefined, digits = 1): string {
    if (share === null || share === undefined || !Number.isFinite(share)) return '—'
    return `${(share * 100).toFixed(digits)}%`
}

export function formatRate(rate: number | null | undefined): string {
    if (rate === null || rate === undefined) return 'not covered'
    if (rate >= 1) return 'keep all'
    if (rate <= 0) return 'drop all'
    const percent = rate * 100
    return `${percent < 1 ? percent.toPrecision(2) : percent.toFixed(percent < 10 ? 1 : 0)}%`
}

export function formatCount(count: number | null | undefined): string {
    if (count === null || count === undefined || !Number.isFinite(count)) return '—'
    return new Intl.NumberFormat('en-US', { notation: count >= 100000 ? 'compact' : 'standard' }).format(count)
}

export function formatDateTime(iso: string | null | undefined): string {
    if (!iso) return '—'
    const date = new Date(iso)
    if (Number.isNaN(date.getTime())) return '—'
    return date.toISOString().slice(0, 16).replace('T', ' ') + ' UTC'
}

export function formatDay(iso: string): string {
    const date = new Date(iso.length === 10 ? `${iso}T00:00:00Z` : iso)
    return Number.isNaN(date.getTime()) ? iso : date.toISOString().slice(5, 10)
}
