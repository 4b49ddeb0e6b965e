// Typed access to the LipService API: every request and response type comes from the generated OpenAPI schema.
import type { components, paths } from './schema'

export type Schemas = components['schemas']

type JsonOf<R> = R extends { content: { 'application/json': infer T } } ? T : never
type Success<O> = O extends { responses: infer R }
    ? 200 extends keyof R
        ? JsonOf<R[200]>
        : 201 extends keyof R
          ? JsonOf<R[201]>
          : never
    : never
type BodyOf<O> = O extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never

export type GetPath = { [P in keyof paths]: paths[P] extends { get: unknown } ? P : never }[keyof paths]
export type PostPath = { [P in keyof paths]: paths[P] extends { post: unknown } ? P : never }[keyof paths]
export type GetResponse<P extends GetPath> = paths[P] extends { get: infer O } ? Success<O> : never
export type PostResponse<P extends PostPath> = paths[P] extends { post: infer O } ? Success<O> : never
export type PostBody<P extends PostPath> = paths[P] extends { post: infer O } ? BodyOf<O> : never

export type PathParams = Record<string, string | number>
export type Query = Record<string, string | number | undefined>

export class ApiError extends Error {
    constructor(
        readonly status: number,
        readonly code: string,
        message: string,
        readonly details: unknown = null,
    ) {
        super(message)
    }
}

export function fillPath(template: string, params: PathParams = {}): string {
    return template.replace(/\{(\w+)\}/g, (_, name: string) => {
        const value = params[name]
        if (value === undefined) throw new Error(`missing path parameter ${name}`)
        return encodeURIComponent(String(value))
    })
}

function withQuery(url: string, query: Query = {}): string {
    const entries = Object.entries(query).filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    if (entries.length === 0) return url
    return `${url}?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)])).toString()}`
}

function csrfToken(): string {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/)
    return match?.[1] ? decodeURIComponent(match[1]) : ''
}

async function request<T>(method: string, url: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    if (method !== 'GET') headers['X-CSRFToken'] = csrfToken()
    const response = await fetch(url, {
        method,
        headers,
        credentials: 'same-origin',
        body: body === undefined ? null : JSON.stringify(body),
        signal: signal ?? null,
    })
    const text = await response.text()
    const data: unknown = text ? JSON.parse(text) : null
    if (!response.ok) {
        const error = (data as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error
        throw new ApiError(response.status, error?.code ?? 'http_error', error?.message ?? response.statusText, error?.details)
    }
    return data as T
}

export function apiGet<P extends GetPath>(
    path: P,
    params?: PathParams,
    query?: Query,
    signal?: AbortSignal,
): Promise<GetResponse<P>> {
    return request('GET', withQuery(fillPath(path, params), query), undefined, signal)
}

export function apiPost<P extends PostPath>(path: P, params: PathParams, body: PostBody<P>): Promise<PostResponse<P>> {
    return request('POST', fillPath(path, params), body)
}

/** For an endpoint the schema does not describe yet; the caller names the type it expects. */
export function apiPostUnlisted<T>(template: string, params: PathParams, body: unknown): Promise<T> {
    return request('POST', fillPath(template, params), body)
}
