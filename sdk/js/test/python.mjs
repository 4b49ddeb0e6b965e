// The Python interpreter that has lipservice_sdk: LIPSERVICE_PYTHON, else the repository's .venv, else python3.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export function python() {
  if (process.env.LIPSERVICE_PYTHON) return process.env.LIPSERVICE_PYTHON;
  const venv = `${ROOT}.venv/bin/python`;
  return existsSync(venv) ? venv : "python3";
}
