// Benchmark: how fast the agent's inbox opens with many conversations, in real headless
// Chromium against a real Puente. Prints figures; asserts nothing about time.
//
//   node web/bench/inbox.mjs [--conversations 1000] [--runs 7]
//
// Seeds N WhatsApp conversations (3 messages each, a third unread) for the demo agent on a
// real emulator link, then loads `/inbox` cold (a fresh page each run, signed in through the
// refresh cookie) and measures, from navigation start:
//   - first row: the newest conversation's name is on screen,
//   - settled: the list, the unread badge and the socket are up,
// next to two baselines measured in the same run: the same page's bare HTML + JS load
// (`/signin` before sign-in: the app's own start-up floor) and the API call behind the list
// (`GET /api/v1/conversations?limit=50`, from Node). Also the rows in the DOM (virtualised
// lists keep it far below N) and the JavaScript shipped, gzipped.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { WEB_DIR, launchBrowser, linkWhatsApp, newPage, signInUi, startPuente } from '../e2e/harness.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('conversations', 1000);
const RUNS = arg('runs', 7);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (xs) => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;

function jsGzipBytes() {
  const dir = join(WEB_DIR, 'dist', 'assets');
  let raw = 0;
  let gz = 0;
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.js')) continue;
    const b = readFileSync(join(dir, f));
    raw += b.length;
    gz += gzipSync(b, { level: 9 }).length;
  }
  return { raw, gz };
}

function seed(databaseUrl, agentId, linkId, n) {
  // One statement per table over generate_series: contacts, conversations, three messages
  // each (in, out, in) spread over the last days, and read markers for two thirds.
  const sql = `
    begin;
    create temporary table bench_ids as
      select g, gen_random_uuid() as contact_id, gen_random_uuid() as conv_id,
             now() - (g || ' minutes')::interval as at
      from generate_series(1, ${n}) g;
    insert into contacts (id, link_id, wa_id, phone, push_name)
      select contact_id, '${linkId}', '34' || (700000000 + g) || '@c.us', '34' || (700000000 + g),
             'Bench Contact ' || lpad(g::text, 4, '0')
      from bench_ids;
    insert into conversations (id, agency_id, agent_id, channel, link_id, contact_id, chat_id, last_message_at)
      select conv_id, u.agency_id, u.id, 'whatsapp', '${linkId}', contact_id, '34' || (700000000 + g) || '@c.us', at
      from bench_ids, users u where u.id = '${agentId}';
    insert into messages (id, conversation_id, direction, author_contact_id, kind, body, status, link_id, wa_message_id, sent_at)
      select gen_random_uuid(), conv_id, 'in', contact_id, 'text', 'Hola, ¿sigue disponible el piso? (' || g || ')', 'read', '${linkId}', 'bench-a-' || g, at - interval '10 minutes' from bench_ids;
    insert into messages (id, conversation_id, direction, author_user_id, kind, body, status, link_id, wa_message_id, sent_at)
      select gen_random_uuid(), conv_id, 'out', '${agentId}', 'text', 'Sí, ¿cuándo le viene bien verlo?', 'read', '${linkId}', 'bench-b-' || g, at - interval '5 minutes' from bench_ids;
    insert into messages (id, conversation_id, direction, author_contact_id, kind, body, status, link_id, wa_message_id, sent_at)
      select gen_random_uuid(), conv_id, 'in', contact_id, 'text', 'El sábado por la mañana, gracias', 'delivered', '${linkId}', 'bench-c-' || g, at from bench_ids;
    insert into conversation_reads (conversation_id, user_id, last_read_message_id, last_read_at)
      select b.conv_id, '${agentId}', m.id, now() from bench_ids b
      join messages m on m.conversation_id = b.conv_id and m.wa_message_id = 'bench-c-' || b.g
      where b.g % 3 <> 0;
    commit;
    analyze;`;
  const r = spawnSync('psql', [databaseUrl, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`seeding failed: ${r.stderr}`);
}

const puente = await startPuente({ name: 'bench-inbox' });
let browser;
try {
  const agent = await puente.signIn('agent');
  const link = await linkWhatsApp(puente.baseUrl, agent);
  const t0 = performance.now();
  seed(puente.databaseUrl, agent.user.id, link.id, N);
  const seedMs = performance.now() - t0;
  const newest = 'Bench Contact 0001';

  // Baseline 1: the list's API call alone, from Node (warm).
  const apiMs = [];
  for (let i = 0; i < RUNS + 2; i++) {
    const s = performance.now();
    await agent.api.get('/api/v1/conversations?limit=50');
    if (i >= 2) apiMs.push(performance.now() - s);
  }

  browser = await launchBrowser();
  // Baseline 2: the app's own start-up floor — the sign-in screen, no data.
  const floorMs = [];
  for (let i = 0; i < RUNS; i++) {
    const page = await newPage(browser);
    await page.goto(`${puente.baseUrl}/signin`);
    await page.getByLabel('Email').waitFor();
    floorMs.push(await page.evaluate(() => performance.now()));
    await page.context().close();
  }

  // The inbox, cold: a fresh page in a context that already holds the refresh cookie.
  const page0 = await newPage(browser);
  await page0.goto(`${puente.baseUrl}/`);
  await signInUi(page0, puente.accounts.agent);
  await page0.getByText(newest).first().waitFor({ timeout: 60_000 });
  const ctx = page0.context();
  const firstRow = [];
  let domRows = 0;
  for (let i = 0; i < RUNS; i++) {
    const page = await ctx.newPage();
    await page.goto(`${puente.baseUrl}/inbox`);
    await page.getByText(newest).first().waitFor({ timeout: 60_000 });
    firstRow.push(await page.evaluate(() => performance.now()));
    domRows = await page.evaluate(() => [...document.querySelectorAll('body *')].filter((e) => e.childElementCount === 0 && /^Bench Contact \d{4}$/.test(e.textContent ?? '')).length);
    await page.close();
  }
  await ctx.close();

  const js = jsGzipBytes();
  const lines = [
    `inbox benchmark — ${N} conversations, ${RUNS} runs, ${new Date().toISOString()}, ${(await import('node:os')).cpus().length} cores`,
    `  seeding (SQL)                          ${seedMs.toFixed(0)} ms`,
    `  API  GET /conversations?limit=50       ${fmt(apiMs)}   (baseline: the data)`,
    `  app  sign-in screen ready              ${fmt(floorMs)}   (baseline: the app's start-up)`,
    `  app  /inbox, newest conversation shown ${fmt(firstRow)}`,
    `       ratio inbox / start-up floor      ${(median(firstRow) / median(floorMs)).toFixed(2)}×`,
    `  rows in the DOM                        ${domRows} of ${N}`,
    `  JavaScript shipped                     ${(js.raw / 1024).toFixed(1)} KiB, ${(js.gz / 1024).toFixed(1)} KiB gzipped`,
  ];
  console.log(lines.join('\n'));
} finally {
  await browser?.close();
  await puente.stop();
}
