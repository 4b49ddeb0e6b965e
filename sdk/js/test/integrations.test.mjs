// The handle and the integrations, offline: pino, winston, bunyan, the OpenTelemetry processor and the browser hook
// drop what the policy drops, keep every error, carry the sampling attributes, and never throw into the host.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import bunyan from "bunyan";
import pino from "pino";
import winston from "winston";
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs";
import { AdaptiveLogging, configureAdaptiveLogging } from "../dist/index.js";
import { pinoOptions } from "../dist/pino.js";
import { lipserviceFormat } from "../dist/winston.js";
import { lipserviceStream } from "../dist/bunyan.js";
import { LipserviceLogRecordProcessor } from "../dist/otel.js";
import { beforeSend, configureAdaptiveLogging as configureBrowser } from "../dist/browser.js";

// Drops INFO and DEBUG apart from the first line per pattern; keeps WARN.
const POLICY = {
  service: "shop",
  version: 2,
  severity_rates: { DEBUG: 0, INFO: 0, WARN: 1 },
  default_rate: 0,
  keep: { first_per_pattern: false, first_per_signature: false, attributes: [{ attribute: "http.status_code", op: "gte", value: 500 }] },
  anomaly_boost: { enabled: false },
};

function sinkStream() {
  const lines = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...chunk.toString().split("\n").filter(Boolean).map((l) => JSON.parse(l)));
      done();
    },
  });
  return { stream, lines };
}

function offline(extra = {}) {
  return configureAdaptiveLogging({ serviceName: "shop", policy: POLICY, flushOnExit: false, ...extra });
}

test("pino: dropped calls are never written, errors and warnings always are", async () => {
  const handle = offline();
  const { stream, lines } = sinkStream();
  const logger = pino({ ...pinoOptions(handle), level: "trace" }, stream);
  let serialised = 0;
  const costly = { toJSON() { serialised++; return "x"; } };
  for (let i = 0; i < 50; i++) {
    logger.info({ payload: costly }, "user %s logged in", `u${i}`);
    logger.debug("cache miss for key %d", i);
  }
  logger.warn("disk at %d%%", 91);
  logger.error(new Error("payment declined"), "charge failed");
  logger.fatal({ order: 7 }, "ledger corrupt");
  logger.info({ "http.status_code": 503 }, "upstream answered");
  await new Promise((r) => setImmediate(r));
  assert.equal(serialised, 0, "a dropped call serialised its fields");
  assert.deepEqual(lines.map((l) => l.msg), ["disk at 91%", "charge failed", "ledger corrupt", "upstream answered"]);
  const stats = handle.stats();
  assert.equal(stats.seen, 104);
  assert.equal(stats.kept, 4);
  assert.equal(stats.dropped, 100);
  await handle.shutdown();
});

test("pino: a child logger's trace id decides its lines together", async () => {
  const handle = offline({ policy: { ...POLICY, severity_rates: { INFO: 0.5 } } });
  const { stream, lines } = sinkStream();
  const root = pino(pinoOptions(handle), stream);
  const { traceUnit } = await import("../dist/index.js");
  const traces = Array.from({ length: 40 }, (_, i) => `${i + 1}`.padStart(32, "a"));
  for (const trace of traces) {
    const child = root.child({ trace_id: trace });
    for (let j = 0; j < 5; j++) child.info("step %d of the request", j);
  }
  await new Promise((r) => setImmediate(r));
  const keptTraces = new Set(lines.map((l) => l.trace_id));
  assert.deepEqual([...keptTraces].sort(), traces.filter((t) => traceUnit(t) < 0.5).sort());
  assert.ok(keptTraces.size > 0 && keptTraces.size < traces.length);
  assert.equal(lines.length, keptTraces.size * 5);
  await handle.shutdown();
});

test("winston: the format returns false for dropped lines", async () => {
  const handle = offline();
  const { stream, lines } = sinkStream();
  const logger = winston.createLogger({
    level: "silly",
    format: winston.format.combine(lipserviceFormat(handle), winston.format.json()),
    transports: [new winston.transports.Stream({ stream })],
  });
  logger.info("user logged in");
  logger.debug("cache miss");
  logger.silly("tick");
  logger.warn("slow query");
  logger.error("payment failed", { order: 1 });
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(lines.map((l) => l.message), ["slow query", "payment failed"]);
  assert.equal(handle.stats().dropped, 3);
  await handle.shutdown();
});

test("bunyan: the raw stream passes kept records on as JSON lines", async () => {
  const handle = offline();
  const { stream, lines } = sinkStream();
  const logger = bunyan.createLogger({ name: "shop", level: "trace", streams: [lipserviceStream(handle, stream)] });
  logger.info("user logged in");
  logger.trace("enter handler");
  logger.error({ err: new Error("boom") }, "handler failed");
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(lines.map((l) => l.msg), ["handler failed"]);
  await handle.shutdown();
});

test("OpenTelemetry: the processor hands kept records with their attributes to the app's processor", async () => {
  const handle = offline();
  const memory = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    processors: [new LipserviceLogRecordProcessor(handle, new SimpleLogRecordProcessor({ exporter: memory }))],
  });
  const otel = provider.getLogger("app");
  otel.emit({ body: "user logged in", severityText: "INFO", severityNumber: 9 });
  otel.emit({ body: "timeout talking to bank", severityText: "ERROR", severityNumber: 17 });
  otel.emit({ body: "weird level", severityText: "info", severityNumber: 18 });
  const kept = memory.getFinishedLogRecords();
  assert.deepEqual(kept.map((r) => r.body), ["timeout talking to bank", "weird level"]);
  assert.equal(kept[0].attributes["lipservice.sample_rate"], 1);
  assert.match(String(kept[0].attributes["lipservice.pattern"]), /^sig:[0-9a-f]{16}$/);
  await provider.shutdown();
  await handle.shutdown();
});

test("browser: beforeSend returns null for dropped records and tags kept ones", async () => {
  const handle = configureBrowser({ serviceName: "web", policy: POLICY });
  const hook = beforeSend(handle);
  assert.equal(hook({ body: "button clicked", level: "info" }), null);
  const kept = hook({ body: "checkout failed", level: "error", attributes: { cart: 3 } });
  assert.equal(kept.body, "checkout failed");
  assert.equal(kept.attributes.cart, 3);
  assert.equal(kept.attributes["lipservice.sample_rate"], 1);
  assert.ok(kept.attributes["lipservice.pattern"]);
  await handle.shutdown();
});

test("browser: dropped lines of a trace are captured through posthog-js when an error follows", async () => {
  const captured = [];
  const posthog = { captureLog: (record) => captured.push(hook(record)) };
  const handle = configureBrowser({
    serviceName: "web",
    policy: { ...POLICY, error_context: { enabled: true, lines_per_trace: 5, seconds: 30 } },
    posthog,
  });
  const hook = beforeSend(handle);
  const trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  assert.equal(hook({ body: "opened cart", level: "debug", trace_id: trace }), null);
  assert.equal(hook({ body: "unrelated", level: "debug", trace_id: "00f067aa0ba902b700f067aa0ba902b7" }), null);
  assert.ok(hook({ body: "checkout crashed", level: "error", trace_id: trace }));
  assert.deepEqual(captured.map((r) => r.body), ["opened cart"]);
  assert.equal(captured[0].attributes["lipservice.error_context"], true);
  await handle.shutdown();
});

test("nothing throws into the host: bad policies, odd arguments, a failing decision", async () => {
  const warn = console.warn;
  console.warn = () => {};
  const bad = configureAdaptiveLogging({ serviceName: "shop", policy: "/nonexistent/policy.json", flushOnExit: false });
  console.warn = warn;
  assert.equal(bad.policy, null);
  assert.equal(bad.stats().policy_errors, 1);
  const { stream, lines } = sinkStream();
  const logger = pino(pinoOptions(bad), stream);
  const circular = {};
  circular.self = circular;
  logger.info(circular);
  logger.info({ msg: 5 }, 7);
  await bad.shutdown();

  const handle = offline();
  handle.decider.decideLine = () => {
    throw new Error("broken");
  };
  const kept = pino(pinoOptions(handle), stream);
  kept.info("still written");
  await new Promise((r) => setImmediate(r));
  assert.ok(lines.some((l) => l.msg === "still written"));
  assert.equal(handle.stats().internal_errors, 1);
  await handle.shutdown();
  assert.throws(() => configureAdaptiveLogging({ serviceName: "" }), TypeError);
  assert.throws(() => new AdaptiveLogging({ serviceName: "x", lipserviceUrl: "file:///etc" }), TypeError);
});

test("the trace id comes from the active OpenTelemetry span, else from a record field", async () => {
  const { context, trace, ROOT_CONTEXT } = await import("@opentelemetry/api");
  const { AsyncLocalStorageContextManager } = await import("./helpers/context-manager.mjs");
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const { traceFrom } = await import("../dist/index.js");
  assert.deepEqual(traceFrom({ trace_id: "abc" }), { traceId: "abc", spanId: null, traceFlags: 0 });
  const span = trace.wrapSpanContext({ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: 1 });
  context.with(trace.setSpan(ROOT_CONTEXT, span), () => {
    assert.equal(traceFrom({ trace_id: "abc" }).traceId, "0af7651916cd43dd8448eb211c80319c");
  });
  context.disable();
});

test("setPolicy takes a document or, in Node, a policy file", async () => {
  const { writeFileSync, mkdtempSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const file = join(mkdtempSync(join(tmpdir(), "ls-policy-")), "policy.json");
  writeFileSync(file, JSON.stringify({ ...POLICY, version: 9 }));
  const handle = offline();
  handle.setPolicy(file);
  assert.equal(handle.policy.version, 9);
  handle.setPolicy({ service: "shop", version: 10 });
  assert.equal(handle.policy.version, 10);
  assert.throws(() => handle.setPolicy({ service: "shop", default_rate: 7 }), /default_rate/);
  assert.equal(handle.policy.version, 10);
  await handle.shutdown();
});
