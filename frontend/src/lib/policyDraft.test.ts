import type { PolicyDocument } from '../api/types'
import { clampRate, fieldForIssuePath, publishable, rateChanges, withPatternRate, withSeverityRate } from './policyDraft'

const base: PolicyDocument = {
    schema: 'lipservice.policy/v1',
    service: 'checkout-api',
    version: 4,
    etag: '"abc"',
    severity_rates: { DEBUG: 0.1, INFO: 0.5 },
    default_rate: 1,
    patterns: [
        { id: 'p1', template: 'GET /healthz <NUM>', rate: 0.01 },
        { id: 'p2', template: 'cache hit key=<ID>', rate: 0.2 },
    ],
}

describe('policy draft edits', () => {
    it('clamps rates into [0, 1] and rounds noise away', () => {
        expect(clampRate(1.7)).toBe(1)
        expect(clampRate(-0.2)).toBe(0)
        expect(clampRate(0.123456)).toBe(0.1235)
        expect(clampRate(Number.NaN)).toBe(0)
    })

    it('changes one pattern without touching the original', () => {
        const draft = withPatternRate(base, 'p2', 0.05)
        expect(draft.patterns?.[1]?.rate).toBe(0.05)
        expect(base.patterns?.[1]?.rate).toBe(0.2)
    })

    it('lists exactly the changed rates', () => {
        const draft = withSeverityRate(withPatternRate(base, 'p1', 0), 'INFO', 0.25)
        expect(rateChanges(base, draft)).toEqual([
            { key: 'severity:INFO', label: 'INFO lines', before: 0.5, after: 0.25 },
            { key: 'pattern:p1', label: 'GET /healthz <NUM>', before: 0.01, after: 0 },
        ])
        expect(rateChanges(base, base)).toEqual([])
    })

    it('drops server-assigned identity when publishing', () => {
        const body = publishable(base, 'admin')
        expect(body).not.toHaveProperty('version')
        expect(body).not.toHaveProperty('etag')
        expect(body.generated_by).toBe('user:admin')
    })

    it('maps issue paths to editor fields', () => {
        expect(fieldForIssuePath(base, '$.patterns[1].rate')).toBe('pattern:p2')
        expect(fieldForIssuePath(base, '$.severity_rates.ERROR')).toBe('severity:ERROR')
        expect(fieldForIssuePath(base, '$.keep.window_seconds')).toBeNull()
    })
})
