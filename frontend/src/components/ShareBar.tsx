export function ShareBar({ share, kept }: { share: number; kept?: number | null }) {
    const width = `${Math.max(0.5, Math.min(100, share * 100))}%`
    const keptWidth = kept === null || kept === undefined ? null : `${Math.max(0, Math.min(1, kept)) * 100}%`
    return (
        <div className="share-bar" title={`${(share * 100).toFixed(1)}% of bytes`}>
            <div className="share-bar-fill" style={{ width }}>
                {keptWidth !== null ? <div className="share-bar-kept" style={{ width: keptWidth }} /> : null}
            </div>
        </div>
    )
}
