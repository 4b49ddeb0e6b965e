// The handle against local HTTP servers: policy fetch with ETag and a disk cache, stats batches retried with their
// batch id after Retry-After, and kept errors spooled (within bounds) while PostHog's endpoint is down.
import assert from "node:assert/strict";
import http from "node:http";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { configureAdaptiveLogging, parseRetryAfter } from "../dist/index.js";

async function serve(handler) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => handler(req, res, Buffer.concat(chunks)));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

const waitFor = async (check, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
};

const POLICY = { schema: "lipservice.policy/v1", service: "shop", version: 4, etag: '"v4"', severity_rates: { INFO: 0 } };

test("the policy is fetched with its ETag, refreshed with 304s, and cached on disk for the next start", async () => {
  const seen = [];
  const server = await serve((req, res) => {
    seen.push({ url: req.url, etag: req.headers["if-none-match"], auth: req.headers.authorization });
    if (req.url === "/api/v1/patterns/stats") return res.writeHead(202).end("{}");
    if (req.headers["if-none-match"] === '"v4"') return res.writeHead(304).end();
    res.writeHead(200, { "content-type": "application/json", etag: '"v4"' }).end(JSON.stringify(POLICY));
  });
  const cacheDir = mkdtempSync(join(tmpdir(), "lipservice-cache-"));
  const options = { serviceName: "shop", lipserviceUrl: server.url, apiKey: "lsk_1", cacheDir, refreshIntervalMs: 50, flushOnExit: false };
  const handle = configureAdaptiveLogging(options);
  await waitFor(() => handle.stats().policy_not_modified >= 2);
  assert.equal(handle.policy.version, 4);
  assert.equal(seen[0].url, "/api/v1/policies/shop");
  assert.equal(seen[0].auth, "Bearer lsk_1");
  assert.equal(seen[0].etag, undefined);
  assert.equal(seen[1].etag, '"v4"');
  await handle.shutdown();
  await server.close();
  // LipService is gone: the next start decides with the cached policy at once.
  const offline = configureAdaptiveLogging({ ...options, lipserviceUrl: server.url });
  assert.equal(offline.policy.version, 4);
  await offline.shutdown(500);
});

test("stats keep their batch id through retries and wait for Retry-After", async () => {
  const posts = [];
  const server = await serve((req, res, body) => {
    if (req.url !== "/api/v1/patterns/stats") return res.writeHead(404).end();
    posts.push({ at: Date.now(), body: JSON.parse(body) });
    if (posts.length === 1) return res.writeHead(503, { "retry-after": "1" }).end();
    if (posts.length === 2) return res.writeHead(429, { "retry-after": "1" }).end();
    res.writeHead(202).end("{}");
  });
  const handle = configureAdaptiveLogging({
    serviceName: "shop", lipserviceUrl: server.url, cacheDir: mkdtempSync(join(tmpdir(), "ls-")),
    policy: POLICY, statsIntervalMs: 50, refreshIntervalMs: 60_000, flushOnExit: false,
  });
  for (let i = 0; i < 10; i++) handle.handle({ message: `user ${i} logged in`, level: "INFO", timestamp: 1_780_000_000 + i });
  await waitFor(() => handle.stats().stats_batches_sent === 1);
  assert.equal(posts.length, 3);
  assert.equal(new Set(posts.map((p) => p.body.batch_id)).size, 1);
  assert.ok(posts[1].at - posts[0].at >= 950 && posts[2].at - posts[1].at >= 950);
  const [entry] = posts[2].body.stats;
  assert.equal(posts[2].body.service, "shop");
  assert.deepEqual([entry.seen, entry.kept, entry.minute], [10, 1, "2026-05-28T20:26:00Z"]);
  assert.equal(handle.stats().stats_retries, 2);
  await handle.shutdown(500);
  await server.close();
});

test("kept errors wait in a bounded spool while PostHog is down and are sent when it is back", async () => {
  let up = false;
  let received = 0;
  const server = await serve((req, res, body) => {
    if (!up) return res.writeHead(400).end();
    received++;
    res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
  });
  const handle = configureAdaptiveLogging({
    serviceName: "shop", posthogToken: "phc_1", posthogHost: server.url, maxSpooledErrors: 5, exportDelayMs: 10, flushOnExit: false,
  });
  for (let i = 0; i < 8; i++) handle.handle({ message: `payment ${i} failed`, level: "ERROR", timestamp: Date.now() / 1000 });
  handle.handle({ message: "user logged in", level: "INFO", timestamp: Date.now() / 1000 });
  assert.equal(await handle.flush(5_000), false);
  const down = handle.stats();
  assert.equal(down.spooled, 8);
  assert.equal(down.spool_dropped, 3);
  assert.equal(down.export_failed, 1);
  up = true;
  assert.equal(await handle.flush(5_000), true);
  assert.equal(handle.stats().spool_resent, 5);
  assert.ok(received >= 1);
  await handle.shutdown(1_000);
  await server.close();
});

test("Retry-After is read as seconds or an HTTP date, capped", () => {
  assert.equal(parseRetryAfter("3"), 3);
  assert.equal(parseRetryAfter("100000"), 600);
  assert.equal(parseRetryAfter(new Date(Date.now() + 5_000).toUTCString()) > 3, true);
  assert.equal(parseRetryAfter("soon"), null);
});

test("kept lines still queued when the event loop empties are sent before the process exits", async () => {
  let bodies = 0;
  const server = await serve((req, res, body) => {
    bodies += body.length > 0 ? 1 : 0;
    res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
  });
  const script = `
    import { configureAdaptiveLogging } from ${JSON.stringify(new URL("../dist/index.js", import.meta.url).href)};
    const h = configureAdaptiveLogging({ serviceName: "exit", posthogToken: "phc_1", posthogHost: process.argv[1], exportDelayMs: 60000 });
    h.handle({ message: "last words", level: "ERROR", timestamp: Date.now() / 1000 });`;
  const { execFile } = await import("node:child_process");
  const started = Date.now();
  await new Promise((resolve, reject) =>
    execFile(process.execPath, ["--input-type=module", "-e", script, server.url], (error) => (error ? reject(error) : resolve())),
  );
  assert.equal(bodies, 1);
  assert.ok(Date.now() - started < 10_000);
  await server.close();
});

test("a stats batch the server finds too large is split in two, each half with its own batch id", async () => {
  const posts = [];
  const server = await serve((req, res, body) => {
    if (req.url !== "/api/v1/patterns/stats") return res.writeHead(404).end();
    const payload = JSON.parse(body);
    posts.push(payload);
    res.writeHead(payload.stats.length > 2 ? 413 : 202).end("{}");
  });
  const handle = configureAdaptiveLogging({
    serviceName: "shop", lipserviceUrl: server.url, cacheDir: mkdtempSync(join(tmpdir(), "ls-")),
    statsIntervalMs: 60_000, refreshIntervalMs: 60_000, flushOnExit: false,
  });
  for (let i = 0; i < 4; i++) handle.handle({ message: `kind ${"abcd"[i]} happened`, level: "INFO", timestamp: 1_780_000_000 });
  assert.equal(await handle.flush(5_000), true);
  assert.deepEqual(posts.map((p) => p.stats.length), [4, 2, 2]);
  assert.equal(new Set(posts.map((p) => p.batch_id)).size, 3);
  assert.equal(posts.slice(1).reduce((n, p) => n + p.stats.reduce((m, e) => m + e.seen, 0), 0), 4);
  await handle.shutdown(500);
  await server.close();
});

test("delivery losses are reported with the stats once each, those counted at shutdown in the last batch", async () => {
  const stats = [];
  let refusedStats = 0;
  const server = await serve((req, res, body) => {
    if (req.url === "/i/v1/logs") return res.writeHead(400).end(); // PostHog refuses every export
    if (req.url !== "/api/v1/patterns/stats") return res.writeHead(404).end();
    stats.push(JSON.parse(body));
    if (refusedStats++ === 0) return res.writeHead(503, { "retry-after": "0" }).end();
    res.writeHead(202).end("{}");
  });
  const handle = configureAdaptiveLogging({
    serviceName: "shop", lipserviceUrl: server.url, cacheDir: mkdtempSync(join(tmpdir(), "ls-")),
    policy: { service: "shop", severity_rates: { WARN: 1 } }, posthogToken: "phc_1", posthogHost: server.url, maxQueueSize: 10, maxSpooledErrors: 2, exportDelayMs: 10,
    statsIntervalMs: 60_000, refreshIntervalMs: 60_000, flushOnExit: false,
  });
  const now = Date.now() / 1000;
  for (let i = 0; i < 5; i++) handle.handle({ message: `payment ${i} failed`, level: "ERROR", timestamp: now });
  for (let i = 0; i < 50; i++) handle.handle({ message: `user ${i} logged in`, level: "WARN", timestamp: now });
  assert.equal(await handle.flush(5_000), false);
  assert.equal(await handle.flush(5_000), false);
  const down = handle.stats();
  // Five errors and four warnings fill the queue's non-error share (nine of ten); the other 46 warnings are shed.
  assert.deepEqual([down.shed, down.export_failed, down.spool_dropped, down.shed_errors], [46, 4, 3, 0]);
  await handle.shutdown(5_000);
  const after = handle.stats();
  assert.equal(after.spool_dropped, 5); // the two errors still spooled at shutdown are lost with the process
  const accepted = new Map(stats.slice(1).map((post) => [post.batch_id, post]));
  assert.equal(stats[1].batch_id, stats[0].batch_id); // the refused batch was sent again, under its own id
  const reported = {};
  for (const post of accepted.values()) {
    for (const [name, amount] of Object.entries(post.losses ?? {})) reported[name] = (reported[name] ?? 0) + amount;
  }
  assert.deepEqual(reported, { errors_lost: after.spool_dropped, export_failed: after.export_failed, shed: after.shed });
  assert.ok(stats.at(-1).losses.errors_lost >= 2);
  await server.close();
});
