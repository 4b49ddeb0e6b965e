/** The one door to the LipService API: policy fetch with ETag and stats post, over fetch with short timeouts. */

import { type PolicyDocument, PolicyFormatError, policyFromJson } from "./policy.js";

export const MAX_POLICY_BYTES = 5 * 1024 * 1024;
const MAX_RETRY_AFTER_SECONDS = 600;

export interface HttpResult {
  status: number; // 0 when no HTTP answer arrived
  headers: Headers | null;
  body: string;
  error?: string;
}

export type PolicyFetch =
  | { outcome: "changed"; document: PolicyDocument; etag: string }
  | { outcome: "not_modified" | "missing" }
  | { outcome: "failed"; retryAfter: number | null; detail: string; invalid?: boolean };

/** Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), capped; null when absent or bad. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | null {
  if (!value) return null;
  const text = value.trim();
  let seconds = /^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : NaN;
  if (Number.isNaN(seconds)) {
    const when = Date.parse(text);
    if (Number.isNaN(when)) return null;
    seconds = (when - now) / 1000;
  }
  return Math.min(Math.max(seconds, 0), MAX_RETRY_AFTER_SECONDS);
}

/** Only http(s) URLs are accepted, so configuration can never point requests elsewhere. */
export function checkBaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`expected an http(s) URL, got ${JSON.stringify(url)}`);
  }
  if ((parsed.protocol !== "http:" && parsed.protocol !== "https:") || !parsed.host) {
    throw new TypeError(`expected an http(s) URL, got ${JSON.stringify(url)}`);
  }
  return url.replace(/\/+$/, "");
}

export class LipServiceClient {
  readonly baseUrl: string;
  constructor(
    baseUrl: string,
    private readonly apiKey: string | undefined,
    private readonly timeoutMs: number,
    private readonly userAgent?: string,
  ) {
    this.baseUrl = checkBaseUrl(baseUrl);
  }

  private async send(method: string, path: string, body: string | null, extra: Record<string, string>, limit: number): Promise<HttpResult> {
    const headers: Record<string, string> = { Accept: "application/json", ...extra };
    if (this.userAgent) headers["User-Agent"] = this.userAgent;
    if (this.apiKey) headers.Authorization = `Bearer ${this.apiKey}`;
    try {
      const response = await fetch(this.baseUrl + path, {
        method,
        headers,
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
        keepalive: method === "POST" && body !== null && body.length < 60_000,
      });
      const length = Number(response.headers.get("content-length") ?? "0");
      if (length > limit) {
        await response.body?.cancel();
        return { status: response.status, headers: response.headers, body: "", error: "response too large" };
      }
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: text.length > limit ? "" : text };
    } catch (error) {
      return { status: 0, headers: null, body: "", error: String(error).slice(0, 300) };
    }
  }

  async fetchPolicy(service: string, etag: string): Promise<PolicyFetch> {
    const result = await this.send(
      "GET",
      "/api/v1/policies/" + encodeURIComponent(service),
      null,
      etag ? { "If-None-Match": etag } : {},
      MAX_POLICY_BYTES,
    );
    if (result.status === 304) return { outcome: "not_modified" };
    if (result.status === 404) return { outcome: "missing" };
    if (result.status !== 200 || !result.body) {
      return {
        outcome: "failed",
        retryAfter: parseRetryAfter(result.headers?.get("retry-after")),
        detail: result.error ?? `HTTP ${result.status}`,
      };
    }
    try {
      const document = policyFromJson(result.body);
      return { outcome: "changed", document, etag: result.headers?.get("etag") || document.etag };
    } catch (error) {
      const detail = error instanceof PolicyFormatError ? error.message : String(error);
      return { outcome: "failed", retryAfter: null, detail: `invalid policy: ${detail}`.slice(0, 300), invalid: true };
    }
  }

  postStats(payload: unknown): Promise<HttpResult> {
    return this.send("POST", "/api/v1/patterns/stats", JSON.stringify(payload), { "Content-Type": "application/json" }, 64 * 1024);
  }
}
