import { formatRate } from '../lib/format'

export function RateBadge({ rate }: { rate: number | null | undefined }) {
    const kind = rate === null || rate === undefined ? 'none' : rate >= 1 ? 'keep' : rate <= 0 ? 'drop' : 'sample'
    return <span className={`rate rate-${kind}`}>{formatRate(rate)}</span>
}
