import { formatBytes, formatDateTime, formatMoney, formatPercent, formatRate } from './format'

describe('formatBytes', () => {
    it.each([
        [0, '0 B'],
        [999, '999 B'],
        [1500, '1.50 KB'],
        [12_345_678, '12.3 MB'],
        [987_000_000_000, '987 GB'],
        [-2500, '-2.50 KB'],
    ])('%d bytes reads %s', (bytes, expected) => {
        expect(formatBytes(bytes)).toBe(expected)
    })

    it('shows a dash for missing values', () => {
        expect(formatBytes(null)).toBe('—')
        expect(formatBytes(Number.NaN)).toBe('—')
    })
})

describe('formatMoney', () => {
    it('drops cents for large amounts only', () => {
        expect(formatMoney(1234.5)).toBe('$1,235')
        expect(formatMoney(12.345)).toBe('$12.35')
        expect(formatMoney(0)).toBe('$0.00')
    })

    it.each([
        [0.0004, '$0.0004'],
        [0.004567, '$0.0046'],
        [-0.0031, '-$0.0031'],
        [0.01, '$0.01'],
    ])('reads %d below a cent as %s, never "<$0.01"', (amount, expected) => {
        expect(formatMoney(amount)).toBe(expected)
    })
})

describe('formatRate', () => {
    it.each([
        [1, 'keep all'],
        [0, 'drop all'],
        [0.25, '25%'],
        [0.05, '5.0%'],
        [0.001, '0.10%'],
        [null, 'not covered'],
    ])('rate %s reads %s', (rate, expected) => {
        expect(formatRate(rate)).toBe(expected)
    })
})

describe('formatPercent and formatDateTime', () => {
    it('formats shares and UTC timestamps', () => {
        expect(formatPercent(0.7345)).toBe('73.5%')
        expect(formatDateTime('2026-11-23T05:22:41Z')).toBe('2026-11-23 05:22 UTC')
        expect(formatDateTime('not a date')).toBe('—')
    })
})
