import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: {
      index: "src/index.ts",
      pino: "src/pino.ts",
      winston: "src/winston.ts",
      bunyan: "src/bunyan.ts",
      otel: "src/otel.ts",
      browser: "src/browser.ts",
    },
    format: ["esm", "cjs"],
    dts: true,
    splitting: true,
    treeshake: true,
    clean: true,
    target: "node20",
    platform: "neutral",
    external: [/^@opentelemetry\//, /^node:/],
  },
  {
    entry: { "bin/lipservice-keys": "src/bin/lipservice-keys.ts" },
    format: ["esm"],
    target: "node20",
    platform: "node",
    banner: { js: "#!/usr/bin/env node" },
  },
]);
