// `npm pack` makes a tarball that installs into a fresh project, loads by require and by import (every subpath),
// and whose types resolve under tsc --strict.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { signature } from "../dist/index.js";

const here = fileURLToPath(new URL("..", import.meta.url));
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

test("the packed tarball installs, loads both ways and type-checks strictly", { timeout: 300_000 }, () => {
  const out = mkdtempSync(join(tmpdir(), "lipservice-pack-"));
  const tarball = join(out, JSON.parse(run("npm", ["pack", "--json", "--pack-destination", out], here))[0].filename);
  const app = join(out, "app");
  execFileSync("mkdir", ["-p", app]);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true }));
  // The SDK's own dependencies come from the npm cache that installing sdk/js filled.
  run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", tarball,
    "@opentelemetry/api@1.9.0", "pino@10.4.0", "winston@3.19.0", "@types/node@20"], app);

  const cjs = run("node", ["-e", `
    const sdk = require("@lipservice/sdk");
    const { pinoOptions } = require("@lipservice/sdk/pino");
    const { lipserviceFormat } = require("@lipservice/sdk/winston");
    const { lipserviceStream } = require("@lipservice/sdk/bunyan");
    const { LipserviceLogRecordProcessor } = require("@lipservice/sdk/otel");
    const browser = require("@lipservice/sdk/browser");
    const h = sdk.configureAdaptiveLogging({ serviceName: "app", flushOnExit: false });
    console.log(sdk.templateKey("user 42 logged in"), typeof pinoOptions, typeof lipserviceFormat, typeof lipserviceStream,
      typeof LipserviceLogRecordProcessor, typeof browser.beforeSend, h.stats().seen);
    h.shutdown();`], app);
  assert.equal(cjs.trim(), "user <NUM> logged in function function function function function 0");

  writeFileSync(join(app, "esm.mjs"), `
    import { configureAdaptiveLogging, signature } from "@lipservice/sdk";
    import { pinoOptions } from "@lipservice/sdk/pino";
    import { beforeSend, configureAdaptiveLogging as inBrowser } from "@lipservice/sdk/browser";
    const h = configureAdaptiveLogging({ serviceName: "app", policy: { service: "app", severity_rates: { INFO: 0 } }, flushOnExit: false });
    console.log(signature("user 42 logged in"), typeof pinoOptions(h).hooks.logMethod, typeof beforeSend, typeof inBrowser);
    await h.shutdown();`);
  assert.equal(run("node", ["esm.mjs"], app).trim(), `${signature("user 42 logged in")} function function function`);

  const keys = execFileSync(join(app, "node_modules/.bin/lipservice-keys"), { input: "user 42 logged in\n", encoding: "utf8" });
  assert.equal(keys, `${signature("user 42 logged in")}\tuser <NUM> logged in\n`);

  writeFileSync(join(app, "main.ts"), `
    import { configureAdaptiveLogging, type Decision, type PolicyDocument } from "@lipservice/sdk";
    import { pinoOptions } from "@lipservice/sdk/pino";
    import { lipserviceFormat } from "@lipservice/sdk/winston";
    import { LipserviceLogRecordProcessor } from "@lipservice/sdk/otel";
    import { beforeSend } from "@lipservice/sdk/browser";
    import pino from "pino";
    const handle = configureAdaptiveLogging({ serviceName: "app", posthogToken: "phc_x" });
    const logger = pino({ ...pinoOptions(handle) });
    const policy: PolicyDocument | null = handle.policy;
    const verdict: Decision = handle.decide({ message: "m", level: "INFO", timestamp: 1 });
    const keep: boolean = verdict.keep;
    const hook = beforeSend(handle);
    const format = lipserviceFormat(handle);
    export { logger, policy, keep, hook, format, LipserviceLogRecordProcessor };
  `);
  writeFileSync(join(app, "tsconfig.json"), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", skipLibCheck: false, types: ["node"] },
    files: ["main.ts"],
  }));
  run(join(here, "node_modules/.bin/tsc"), ["-p", app], app);
});
