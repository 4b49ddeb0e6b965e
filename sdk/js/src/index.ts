/** @lipservice/sdk for Node.js: configureAdaptiveLogging and the shared signature, severity and decision. */

import { AdaptiveLogging, type AdaptiveOptions, SDK_VERSION } from "./core.js";
import { DiskPolicyCache, defaultCacheDir, readPolicyFile } from "./node.js";
import { OtlpSink, posthogLogsEndpoint } from "./otlp.js";
import type { LogRecordExporter } from "@opentelemetry/sdk-logs";
import { checkBaseUrl } from "./client.js";

export * from "./shared.js";
export { OtlpSink, posthogLogsEndpoint } from "./otlp.js";
export { DiskPolicyCache, defaultCacheDir } from "./node.js";

export interface NodeAdaptiveOptions extends AdaptiveOptions {
  /** Where the last fetched policy is kept; the platform's user cache directory by default. */
  cacheDir?: string;
  /** Replaces the OTLP exporter (tests, or another way to ship kept lines). */
  exporter?: LogRecordExporter;
  /** Flush and shut down when the event loop empties (beforeExit), within exitTimeoutMs. Default true. */
  flushOnExit?: boolean;
}

let active: AdaptiveLogging | null = null;
let exitHook: (() => void) | null = null;

/** The handle of the last configureAdaptiveLogging call, unless it was shut down. */
export function activeHandle(): AdaptiveLogging | null {
  return active !== null && !active.isClosed ? active : null;
}

/**
 * Start adaptive sampling for this process, replacing any earlier configuration.
 *
 * Offline (no lipserviceUrl, no posthogToken): `policy` decides and kept lines go on to the logger's own
 * destinations. With lipserviceUrl the policy is fetched (ETag, cached on disk) and stats are posted; with
 * posthogToken kept lines are also sent to PostHog over OTLP. Throws only for invalid options.
 */
export function configureAdaptiveLogging(options: NodeAdaptiveOptions): AdaptiveLogging {
  if (options.lipserviceUrl !== undefined) checkBaseUrl(options.lipserviceUrl);
  if (options.posthogToken) checkBaseUrl(options.posthogHost ?? "https://us.i.posthog.com");
  const previous = active;
  if (previous !== null) void previous.shutdown(Math.min(options.exitTimeoutMs ?? 3_000, 2_000));
  const sinkFor = (resolved: AdaptiveLogging["options"], countersOf: AdaptiveLogging["counters"]) =>
    new OtlpSink({
      endpoint: posthogLogsEndpoint(resolved.posthogHost),
      token: resolved.posthogToken ?? "",
      serviceName: resolved.serviceName,
      sdkVersion: SDK_VERSION,
      counters: countersOf,
      timeoutMs: resolved.exportTimeoutMs,
      maxQueueSize: resolved.maxQueueSize,
      exportBatchSize: resolved.exportBatchSize,
      exportDelayMs: resolved.exportDelayMs,
      maxSpooledErrors: resolved.maxSpooledErrors,
      exporter: options.exporter,
    });
  const handle = new AdaptiveLogging(options, {
    cache:
      options.lipserviceUrl !== undefined
        ? new DiskPolicyCache(options.cacheDir ?? defaultCacheDir(), options.serviceName, options.lipserviceUrl)
        : null,
    readPolicyFile,
    sinkFactory: options.posthogToken || options.exporter ? sinkFor : undefined,
  });
  handle.start();
  active = handle;
  if (exitHook !== null) process.removeListener("beforeExit", exitHook);
  exitHook = null;
  if (options.flushOnExit !== false) {
    exitHook = () => {
      const current = active;
      if (current !== null && !current.isClosed) void current.shutdown(current.options.exitTimeoutMs);
    };
    process.once("beforeExit", exitHook);
  }
  return handle;
}
