// Added cost per pino and winston call of @lipservice/sdk (sdk/js, built), against the same logger without the SDK,
// both writing to a null destination; dropped and kept (kept lines also go through the OpenTelemetry batch pipeline
// to an exporter that discards them). Every call is timed; median and p99 per configuration. Also the browser
// entry's size, minified and gzipped. Run: `node bench/sdk_js_overhead.mjs` after `make node-sdk`.
import { createRequire } from "node:module";
import { gzipSync } from "node:zlib";

const require = createRequire(new URL("../sdk/js/package.json", import.meta.url));
const pino = require("pino");
const winston = require("winston");
const esbuild = require("esbuild");
const sdk = await import("../sdk/js/dist/index.js");
const { pinoOptions } = await import("../sdk/js/dist/pino.js");
const { lipserviceFormat } = await import("../sdk/js/dist/winston.js");

const LINES = 10_000;
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const TEMPLATES = [
  (n) => `user ${n} logged in from 10.0.${n % 256}.${(n * 7) % 256}`,
  (n) => `GET /api/v1/orders/${n} 200 in ${n % 97}ms`,
  (n) => `cache miss for key product:${n}`,
  (n) => `charged card for order ORD-${n} amount ${(n % 500) + 0.99} EUR`,
  (n) => `worker ${n % 8} picked task ${n}`,
  (n) => `session ${n.toString(16).padStart(12, "0")} refreshed`,
  (n) => `slow query on table orders took ${n % 3000}ms`,
  (n) => `request_id=${n.toString(36)} completed`,
];
// Numbers differ from line to line and from round to round, as in real traffic: no line repeats word for word, so
// every call masks its message (the SDK's digit-shape memo, not its per-message memo, is what helps).
let round = 0;
const linesOf = (r) => Array.from({ length: LINES }, (_, i) => TEMPLATES[i % TEMPLATES.length]((r * LINES + i) * 7919 + 13));

const nullStream = { write() {} };
const discard = { export: (_records, done) => done({ code: 0 }), shutdown: async () => {}, forceFlush: async () => {} };

function policy(rate) {
  return {
    service: "bench",
    severity_rates: { INFO: rate },
    keep: { first_per_pattern: false, first_per_signature: false, attributes: [] },
    anomaly_boost: { enabled: false },
  };
}

function handle(rate) {
  return sdk.configureAdaptiveLogging({
    serviceName: "bench", policy: policy(rate), exporter: discard, maxQueueSize: 50_000, flushOnExit: false,
  });
}

async function timeCalls(call) {
  const messages = linesOf(round++);
  const samples = new Float64Array(LINES);
  for (let i = 0; i < LINES; i++) {
    const start = process.hrtime.bigint();
    call(messages[i]);
    samples[i] = Number(process.hrtime.bigint() - start) / 1000;
    if (i % 500 === 499) await new Promise((r) => setImmediate(r)); // let the export pipeline run, untimed
  }
  return samples.sort();
}

const pick = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function compare(name, baseline, withSdk) {
  const rows = [];
  for (let r = 0; r <= ROUNDS; r++) {
    const base = await timeCalls(baseline);
    const mine = await timeCalls(withSdk);
    if (r === 0) continue; // warm-up
    rows.push({ base50: pick(base, 0.5), base99: pick(base, 0.99), sdk50: pick(mine, 0.5), sdk99: pick(mine, 0.99) });
  }
  rows.sort((a, b) => a.sdk50 - a.base50 - (b.sdk50 - b.base50));
  const mid = rows[Math.floor(rows.length / 2)];
  const best = rows[0];
  const fmt = (x) => x.toFixed(2);
  console.log(
    `| ${name} | ${fmt(mid.base50)} | ${fmt(mid.sdk50)} | ${fmt(mid.sdk50 - mid.base50)} | ${fmt(best.sdk50 - best.base50)} | ${fmt(mid.base99)} | ${fmt(mid.sdk99)} | ${fmt(mid.sdk99 - mid.base99)} |`,
  );
}

console.log(`node ${process.version}, ${LINES} lines x ${ROUNDS} rounds (+1 warm-up), every call timed`);
console.log("| call | baseline median µs | SDK median µs | added µs, median round | added µs, best round | baseline p99 µs | SDK p99 µs | added p99 µs |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|");

const plainPino = pino({ level: "info" }, nullStream);
const dropping = handle(0);
const droppedPino = pino({ ...pinoOptions(dropping), level: "info" }, nullStream);
await compare("pino, dropped INFO", (m) => plainPino.info(m), (m) => droppedPino.info(m));
await compare("pino, dropped INFO with fields", (m) => plainPino.info({ order: 7, user: "u1" }, m), (m) => droppedPino.info({ order: 7, user: "u1" }, m));
await dropping.shutdown(100);
const keeping = handle(1);
const keptPino = pino({ ...pinoOptions(keeping), level: "info" }, nullStream);
await compare("pino, kept INFO (exported)", (m) => plainPino.info(m), (m) => keptPino.info(m));
if (keeping.stats().shed > 0) console.log(`(shed ${keeping.stats().shed})`);
await keeping.shutdown(100);

const winstonLogger = (format) =>
  winston.createLogger({ level: "info", format, transports: [new winston.transports.Stream({ stream: new (require("node:stream").Writable)({ write(_c, _e, done) { done(); } }) })] });
const plainWinston = winstonLogger(winston.format.json());
const dropW = handle(0);
const droppedWinston = winstonLogger(winston.format.combine(lipserviceFormat(dropW), winston.format.json()));
await compare("winston, dropped INFO", (m) => plainWinston.info(m), (m) => droppedWinston.info(m));
await dropW.shutdown(100);
const keepW = handle(1);
const keptWinston = winstonLogger(winston.format.combine(lipserviceFormat(keepW), winston.format.json()));
await compare("winston, kept INFO (exported)", (m) => plainWinston.info(m), (m) => keptWinston.info(m));
await keepW.shutdown(100);

const bundle = await esbuild.build({
  entryPoints: [new URL("../sdk/js/dist/browser.js", import.meta.url).pathname],
  bundle: true, minify: true, write: false, format: "esm", platform: "browser",
});
const code = bundle.outputFiles[0].contents;
console.log(`\nbrowser entry: ${(code.length / 1024).toFixed(1)} KB minified, ${(gzipSync(code).length / 1024).toFixed(1)} KB minified+gzipped (no OpenTelemetry in it)`);
