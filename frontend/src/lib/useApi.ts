import { useCallback, useEffect, useState } from 'react'

export interface Loaded<T> {
    data: T | null
    error: Error | null
    loading: boolean
    reload: () => void
}

/** Runs `load` when `key` changes; a newer load wins over an older one that finishes late. */
export function useApi<T>(load: (signal: AbortSignal) => Promise<T>, key: string): Loaded<T> {
    const [data, setData] = useState<T | null>(null)
    const [error, setError] = useState<Error | null>(null)
    const [loading, setLoading] = useState(true)
    const [generation, setGeneration] = useState(0)
    const reload = useCallback(() => setGeneration((g) => g + 1), [])

    useEffect(() => {
        const controller = new AbortController()
        setLoading(true)
        load(controller.signal)
            .then((value) => {
                setData(value)
                setError(null)
            })
            .catch((reason: unknown) => {
                if (controller.signal.aborted) return
                setError(reason instanceof Error ? reason : new Error(String(reason)))
            })
            .finally(() => {
                if (!controller.signal.aborted) setLoading(false)
            })
        return () => controller.abort()
        // eslint-disable-next-line react-hooks/exhaustive-deps
    }, [key, generation])

    return { data, error, loading, reload }
}
