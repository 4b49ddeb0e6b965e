import { render, screen } from '@testing-library/react'

import type { PatternOutput, PolicyDiff, Proof, SimulationReport } from '../api/types'
import { DiffView } from './DiffView'
import { PatternTable } from './PatternTable'
import { ProofTable } from './Savings'
import { SimulationView } from './SimulationView'

const report: SimulationReport = {
    method: 'replay',
    service: 'checkout-api',
    price_per_gb: 0.5,
    lines_total: 1000,
    lines_kept: 300,
    bytes_total: 2_000_000,
    bytes_kept: 500_000,
    reduction_lines: 0.7,
    reduction_bytes: 0.75,
    errors_total: 12,
    errors_kept: 12,
    patterns_total: 10,
    patterns_covered: 10,
    dollars_before: 1,
    dollars_after: 0.25,
    dollars_per_month_before: 40,
    dollars_per_month_after: 10,
    per_pattern: [
        { pattern_id: 'a', template: 'GET /healthz <NUM>', rate: 0.01, lines: 500, kept: 5, bytes: 900_000, bytes_kept: 9_000, errors: 0, errors_kept: 0 },
        { pattern_id: 'b', template: 'payment failed', rate: 1, lines: 12, kept: 12, bytes: 1200, bytes_kept: 1200, errors: 12, errors_kept: 12 },
    ],
}

describe('SimulationView', () => {
    it('shows savings, errors kept and what would be dropped', () => {
        render(<SimulationView report={report} />)
        expect(screen.getByText('$10.00')).toBeInTheDocument()
        expect(screen.getByText('12 / 12')).toBeInTheDocument()
        expect(screen.getByText('every error kept')).toBeInTheDocument()
        expect(screen.getByText('GET /healthz <NUM>')).toBeInTheDocument()
        expect(screen.queryByText('payment failed')).not.toBeInTheDocument()
    })

    it('warns when errors would be lost', () => {
        render(<SimulationView report={{ ...report, errors_kept: 10 }} />)
        expect(screen.getByText('some errors would be lost')).toBeInTheDocument()
    })
})

describe('DiffView', () => {
    it('renders rate changes and added patterns as the server reports them', () => {
        const diff: PolicyDiff = {
            from_version: 1,
            to_version: 2,
            severity_rates: { INFO: { from: 0.5, to: 0.25 } },
            patterns_added: [{ id: 'n', template: 'new <*>', rate: 0.1 }],
            patterns_removed: [],
            patterns_changed: [{ id: 'p', template: 'cache hit key=<ID>', changes: { rate: { from: 0.2, to: 0.05 } } }],
            changed_fields: {},
            identical: false,
        }
        render(<DiffView diff={diff} />)
        expect(screen.getByText('v1 → v2')).toBeInTheDocument()
        expect(screen.getByText('50%')).toBeInTheDocument()
        expect(screen.getByText('25%')).toBeInTheDocument()
        expect(screen.getByText('cache hit key=<ID>')).toBeInTheDocument()
        expect(screen.getByText('5.0%')).toBeInTheDocument()
        expect(screen.getByText('new <*>')).toBeInTheDocument()
    })
})

describe('PatternTable', () => {
    it('links each pattern to its page and shows its rate', () => {
        const patterns: PatternOutput[] = [
            { id: 'abc', template: 'cache miss key=<ID>', count: 20783, bytes: 617_700, share_of_bytes: 0.03, rate: 0.135, reason: 'DEBUG repeats', severity_counts: { DEBUG: 20783 } },
        ]
        render(<PatternTable service="checkout-api" patterns={patterns} />)
        const link = screen.getByRole('link', { name: 'cache miss key=<ID>' })
        expect(link.getAttribute('href')).toBe('/dashboard/services/checkout-api/patterns/abc/')
        expect(screen.getByText('14%')).toBeInTheDocument()
        expect(screen.getByText('618 KB')).toBeInTheDocument()
    })
})

describe('ProofTable', () => {
    const proof: Proof = {
        policy_version: 3,
        since: '2026-11-20T00:00:00Z',
        sdk_hours: 48,
        predicted_reduction: 0.7,
        measured_reduction: 0.69,
        band_low: 0.665,
        band_high: 0.735,
        tolerance: 0.05,
        agrees: true,
        drift: false,
        bytes_seen: 10_000,
        bytes_kept: 3_100,
        errors_seen: 240,
        errors_kept: 240,
        errors_lost: 0,
        lines_shed: 0,
        lines_lost: 0,
        spool_files_corrupt: 0,
        patterns_reported: 2,
        patterns_kept: 2,
    }

    it('says nothing of delivery when nothing was lost', () => {
        render(<ProofTable rows={[proof]} />)
        expect(screen.getByText('240 → 240')).toHaveClass('good')
        expect(screen.queryByTestId('delivery-losses')).not.toBeInTheDocument()
    })

    it('shows kept errors lost in delivery and shed lines', () => {
        render(<ProofTable rows={[{ ...proof, errors_lost: 7, lines_shed: 1200, lines_lost: 30 }]} />)
        expect(screen.getByText('240 → 240')).toHaveClass('bad')
        expect(screen.getByText('7 kept errors lost in delivery')).toBeInTheDocument()
        expect(screen.getByText('1,200 lines shed by a full export queue')).toBeInTheDocument()
        expect(screen.getByText('30 other lines lost in delivery')).toBeInTheDocument()
        expect(screen.queryByText(/damaged spool files/)).not.toBeInTheDocument()
    })
})
