#!/usr/bin/env node
// The JavaScript size budget: gzips every .js file in dist/assets (as a browser receives it
// from a server that compresses, level 9) and fails when the total is over 250 kB.
//
//   node scripts/check-size.mjs        after `vite build` (npm run check:size)
//
// Prints the total and the largest files. The budget is the "≤ 250 KB gzipped",
// counted in kB (1,000 bytes), so it is also under 250 KiB. Every chunk counts, whether a
// given role loads it or not: the figure is what the app ships.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const BUDGET = 250_000;
const assets = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'assets');

let names;
try {
  names = readdirSync(assets).filter((n) => n.endsWith('.js'));
} catch {
  console.error(`check-size: ${assets} is missing; run \`npx vite build\` first`);
  process.exit(1);
}
if (names.length === 0) {
  console.error(`check-size: no .js files in ${assets}; run \`npx vite build\` first`);
  process.exit(1);
}

const files = names
  .map((name) => {
    const bytes = readFileSync(join(assets, name));
    return { name, raw: statSync(join(assets, name)).size, gz: gzipSync(bytes, { level: 9 }).length };
  })
  .sort((a, b) => b.gz - a.gz);
const total = files.reduce((s, f) => s + f.gz, 0);
const raw = files.reduce((s, f) => s + f.raw, 0);
const kB = (n) => `${(n / 1000).toFixed(1)} kB`;

for (const f of files.slice(0, 5)) console.log(`  ${kB(f.gz).padStart(9)}  ${f.name}`);
if (files.length > 5) console.log(`  … and ${files.length - 5} more`);
const line = `JavaScript: ${kB(total)} gzipped (${(total / 1024).toFixed(1)} KiB; ${kB(raw)} raw) in ${files.length} files; budget ${kB(BUDGET)}`;
if (total > BUDGET) {
  console.error(`${line} — over by ${kB(total - BUDGET)}`);
  process.exit(1);
}
console.log(line);
