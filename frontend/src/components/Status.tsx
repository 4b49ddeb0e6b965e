import { ApiError } from '../api/client'

export function Loading({ what }: { what: string }) {
    return (
        <div className="status status-loading" role="status">
            Loading {what}…
        </div>
    )
}

export function ErrorBox({ error, what }: { error: Error; what: string }) {
    const detail = error instanceof ApiError ? `${error.message} (HTTP ${error.status})` : error.message
    return (
        <div className="status status-error" role="alert">
            Could not load {what}: {detail}
        </div>
    )
}

export function Empty({ children }: { children: React.ReactNode }) {
    return <div className="status status-empty">{children}</div>
}
