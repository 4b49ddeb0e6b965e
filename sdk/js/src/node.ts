/** Node-only parts: the policy cached on disk, policy files, the OTLP pipeline, and the flush at exit. */

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import type { PolicyCache } from "./core.js";
import { type PolicyDocument, parsePolicy } from "./policy.js";

/** The user cache directory of the platform, e.g. ~/.cache/lipservice on Linux (the Python SDK's too). */
export function defaultCacheDir(): string {
  try {
    if (process.platform === "win32") {
      return join(process.env.LOCALAPPDATA || join(homedir(), "AppData", "Local"), "lipservice", "Cache");
    }
    if (process.platform === "darwin") return join(homedir(), "Library", "Caches", "lipservice");
    return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "lipservice");
  } catch {
    return join(tmpdir(), "lipservice");
  }
}

/** The last policy fetched, one JSON file per (service, server), replaced atomically; the Python SDK's layout. */
export class DiskPolicyCache implements PolicyCache {
  readonly path: string;

  constructor(
    private readonly directory: string,
    service: string,
    source: string,
  ) {
    const safe = service.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 100) || "service";
    const digest = createHash("sha256").update(source).digest("hex").slice(0, 10);
    this.path = join(directory, `${safe}-${digest}.policy.json`);
  }

  load(): { policy: PolicyDocument; etag: string } | null {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch {
      return null;
    }
    try {
      const data = JSON.parse(text) as { etag?: unknown; policy?: unknown };
      return { policy: parsePolicy(data.policy), etag: String(data.etag ?? "") };
    } catch {
      return null;
    }
  }

  save(policy: PolicyDocument, etag: string): void {
    mkdirSync(this.directory, { recursive: true });
    const temp = join(this.directory, `.policy-${process.pid}-${Date.now()}.tmp`);
    try {
      writeFileSync(temp, JSON.stringify({ etag, policy }));
      renameSync(temp, this.path);
    } catch (error) {
      rmSync(temp, { force: true });
      throw error;
    }
  }
}

export function readPolicyFile(path: string): string {
  return readFileSync(path, "utf8");
}
