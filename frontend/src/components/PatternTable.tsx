import type { PatternOutput } from '../api/types'
import { formatBytes, formatCount } from '../lib/format'
import { links } from '../lib/links'
import { RateBadge } from './RateBadge'
import { SeverityMix } from './SeverityMix'
import { ShareBar } from './ShareBar'

export function PatternTable({ service, patterns }: { service: string; patterns: PatternOutput[] }) {
    return (
        <table className="table" data-testid="pattern-table">
            <thead>
                <tr>
                    <th>Pattern</th>
                    <th className="num">Bytes</th>
                    <th>Share (kept part darker)</th>
                    <th className="num">Lines</th>
                    <th>Severities</th>
                    <th>Rate</th>
                    <th>Reason</th>
                </tr>
            </thead>
            <tbody>
                {patterns.map((p) => (
                    <tr key={p.id}>
                        <td className="template">
                            <a href={links.pattern(service, p.id)}>
                                <code>{p.template}</code>
                            </a>
                        </td>
                        <td className="num">{formatBytes(p.bytes)}</td>
                        <td>
                            <ShareBar share={p.share_of_bytes} kept={p.rate} />
                        </td>
                        <td className="num">{formatCount(p.count)}</td>
                        <td>
                            <SeverityMix counts={p.severity_counts} />
                        </td>
                        <td>
                            <RateBadge rate={p.rate} />
                        </td>
                        <td className="reason">{p.reason || <span className="muted">—</span>}</td>
                    </tr>
                ))}
            </tbody>
        </table>
    )
}
