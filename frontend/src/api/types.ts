// Names for the generated schema types the pages use; aliases only, never copies.
import type { paths } from './schema'
import type { Schemas } from './client'

export type TeamInsights = Schemas['TeamInsights']
export type ServiceInsights = Schemas['ServiceInsights']
export type Projection = Schemas['Projection']
export type Anomaly = Schemas['Anomaly']
export type Recommendation = Schemas['Recommendation']
export type ServiceRow = Schemas['ServiceRow']
export type TeamRunRate = Schemas['TeamRunRate']
export type ServiceRunRate = Schemas['ServiceRunRate']
export type Proof = Schemas['Proof']
export type ServiceProof = Schemas['ServiceProof']
export type IncidentDetail = Schemas['IncidentDetail']
export type PatternOutput = Schemas['PatternOutput']
export type PatternDetail = Schemas['PatternDetailOutput']
export type PatternWindow = Schemas['PatternWindowOutput']
export type PolicyVersion = Schemas['PolicyVersion']
export type PolicyVersionDetail = Schemas['PolicyVersionDetail']
export type PolicyDocument = Schemas['PolicyDocument']
export type PatternRule = Schemas['PatternRule']
export type PolicyDiff = Schemas['PolicyDiff']
export type PolicyIssue = Schemas['PolicyIssue']
export type PolicyValidation = Schemas['PolicyValidation']

const SIMULATE = '/api/v1/policies/{service}/simulate'
type SimulatePath = typeof SIMULATE

/**
 * The simulate endpoint's report. Until the endpoint is in the schema, this falls back to the shape of
 * `policies.engine.simulator.SimulationReport.as_dict()`; regenerate the schema and the generated type takes over.
 */
type Lookup<T, K> = K extends keyof T ? T[K] : never
type SimulateResponse = [Lookup<paths, SimulatePath>] extends [never]
    ? PendingSimulationReport
    : Lookup<paths, SimulatePath> extends { post: { responses: { 200: { content: { 'application/json': infer T } } } } }
      ? T
    : PendingSimulationReport
export type SimulationReport = SimulateResponse

export interface PendingSimulationReport {
    service: string
    lines_total: number
    lines_kept: number
    bytes_total: number
    bytes_kept: number
    reduction_lines: number
    reduction_bytes: number
    errors_total: number
    errors_kept: number
    patterns_total: number
    patterns_covered: number
    dollars_before: number
    dollars_after: number
    dollars_per_month_before: number | null
    dollars_per_month_after: number | null
    per_pattern: {
        pattern_id: string
        template: string
        rate: number | null
        lines: number
        kept: number
        bytes: number
        bytes_kept: number
        errors: number
        errors_kept: number
    }[]
}

export const SIMULATE_PATH = SIMULATE
