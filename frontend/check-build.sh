#!/usr/bin/env bash
# CI: rebuild the bundle and fail if the committed frontend/dist (or the generated API types) differ from the build.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
# Integer bounds in the schema follow the database backend, so the committed schema is made with the embedded one.
env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL "${PYTHON:-../.venv/bin/python}" ../manage.py spectacular --file schema/openapi.yaml
npm run gen:api
npm run typecheck
npm test
npm run build
if ! git diff --quiet --exit-code -- dist src/api/schema.d.ts schema/openapi.yaml || [ -n "$(git ls-files --others --exclude-standard -- dist)" ]; then
    echo "frontend/dist or src/api/schema.d.ts is stale: run 'manage.py spectacular --file frontend/schema/openapi.yaml', then 'npm run gen:api && npm run build' in frontend/ and commit." >&2
    git status --short -- dist src/api/schema.d.ts schema/openapi.yaml >&2
    exit 1
fi
echo "frontend/dist matches the source."
