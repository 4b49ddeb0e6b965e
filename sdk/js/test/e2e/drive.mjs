// Drives the built SDK against a live LipService and an OTLP receiver: waits for the published policy, logs every
// line of LINES (JSON lines: severity, body, trace_id) through pino, flushes, shuts down and prints the handle's stats.
import { readFileSync } from "node:fs";
import pino from "pino";
import { configureAdaptiveLogging } from "../../dist/index.js";
import { pinoOptions } from "../../dist/pino.js";

const env = process.env;
const handle = configureAdaptiveLogging({
  serviceName: env.SERVICE,
  lipserviceUrl: env.LIPSERVICE_URL,
  apiKey: env.API_KEY,
  posthogToken: env.POSTHOG_TOKEN,
  posthogHost: env.POSTHOG_HOST,
  cacheDir: env.CACHE_DIR,
  statsIntervalMs: 500,
  refreshIntervalMs: 500,
  exportDelayMs: 200,
  seed: 1,
  maxQueueSize: 100_000,
  exportBatchSize: 2_000,
});
const wanted = Number(env.POLICY_VERSION);
const deadline = Date.now() + 20_000;
while (handle.policy?.version !== wanted) {
  if (Date.now() > deadline) throw new Error(`policy ${wanted} never arrived: ${JSON.stringify(handle.stats())}`);
  await new Promise((r) => setTimeout(r, 50));
}
const logger = pino({ ...pinoOptions(handle), level: "trace" }, pino.destination("/dev/null"));
const methods = { TRACE: "trace", DEBUG: "debug", INFO: "info", WARN: "warn", ERROR: "error", FATAL: "fatal" };
const lines = readFileSync(env.LINES, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line));
for (const line of lines) {
  const fields = line.trace_id ? { trace_id: line.trace_id } : {};
  logger[methods[line.severity] ?? "info"](fields, line.body);
}
const flushed = await handle.flush(30_000);
await handle.shutdown(10_000);
console.log(JSON.stringify({ flushed, stats: handle.stats() }));
