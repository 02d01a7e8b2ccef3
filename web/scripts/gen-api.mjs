#!/usr/bin/env node
// Generate the web app's API types from Puente's OpenAPI document.
//
//   node scripts/gen-api.mjs          write src/api/schema.d.ts   (npm run gen:api)
//   node scripts/gen-api.mjs --check  exit 1 if the file differs  (npm run check:api)
//
// The document comes from `puente openapi` (no database needed). The binary defaults to
// ../target/debug/puente; PUENTE_BIN overrides it. The output is deterministic for a given
// document, so the check is a plain byte comparison.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = process.env.PUENTE_BIN
  ? resolve(process.env.PUENTE_BIN)
  : resolve(webDir, '..', 'target', 'debug', 'puente');
const out = resolve(webDir, 'src', 'api', 'schema.d.ts');
const check = process.argv.includes('--check');

function fail(message) {
  console.error(`gen-api: ${message}`);
  process.exit(1);
}

// utoipa names an operation after its handler function, so two handlers of the same name in
// different modules (`list_links` for agents and for operators) share an operationId, which
// OpenAPI forbids and openapi-typescript refuses. Until each has an explicit `operation_id`,
// every member of a clash is prefixed with the first path segment after /api/v1
// (`admin_list_links`, `whatsapp_list_links`), deterministically, with a warning.
function disambiguateOperationIds(document) {
  const byId = new Map();
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const [method, op] of Object.entries(item ?? {})) {
      if (op && typeof op === 'object' && typeof op.operationId === 'string') {
        if (!byId.has(op.operationId)) byId.set(op.operationId, []);
        byId.get(op.operationId).push({ path, method, op });
      }
    }
  }
  const taken = new Set(byId.keys());
  for (const [id, ops] of byId) {
    if (ops.length < 2) continue;
    for (const { path, method, op } of ops) {
      const segment = path.replace(/^\/api\/v\d+\//, '').split('/')[0].replace(/\W/g, '_') || method;
      let renamed = `${segment}_${id}`;
      for (let n = 2; taken.has(renamed); n++) renamed = `${segment}_${id}_${n}`;
      taken.add(renamed);
      op.operationId = renamed;
      console.warn(
        `gen-api: warning: operationId \`${id}\` is used more than once; ${method.toUpperCase()} ${path} ` +
          `is typed as \`${renamed}\` (give the handler an explicit operation_id in Rust)`,
      );
    }
  }
}

if (!existsSync(bin)) {
  fail(`${bin} not found: build it with \`cargo build -p puente\` (or set PUENTE_BIN)`);
}

let json;
try {
  json = execFileSync(bin, ['openapi'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
} catch (e) {
  fail(`\`${bin} openapi\` failed: ${e.message}`);
}

let doc;
try {
  doc = JSON.parse(json);
} catch (e) {
  fail(`\`${bin} openapi\` did not print JSON: ${e.message}`);
}

disambiguateOperationIds(doc);
const ast = await openapiTS(doc, { silent: true });
const generated = COMMENT_HEADER + astToString(ast);
const shown = relative(process.cwd(), out) || out;

if (check) {
  const current = existsSync(out) ? readFileSync(out, 'utf8') : null;
  if (current === generated) {
    console.log(`API types are up to date (${shown})`);
    process.exit(0);
  }
  console.error(
    current === null
      ? `API types are missing: run \`npm run gen:api\` in web/ and commit ${shown}`
      : `API types are stale: run \`npm run gen:api\` in web/ and commit ${shown} ` +
          '(it differs from what `puente openapi` generates)',
  );
  process.exit(1);
}

mkdirSync(dirname(out), { recursive: true });
const before = existsSync(out) ? readFileSync(out, 'utf8') : null;
if (before === generated) {
  console.log(`${shown} unchanged`);
} else {
  writeFileSync(out, generated);
  console.log(`wrote ${shown}`);
}
