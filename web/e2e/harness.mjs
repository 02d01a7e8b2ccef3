// End-to-end harness: a real Puente (its own database, its own Docker instance label, the
// WAHA emulator image), a real headless Chromium, and the emulator's control API to play the
// phone. See README.md beside this file for the API and an example.
//
// Invariants:
// - every Puente gets a fresh database in the cluster of DATABASE_URL and a unique
//   PUENTE_INSTANCE, so test files never see each other's rows or containers;
// - stop() removes the process, every container and volume labelled with the instance and
//   the database, and is also run (synchronously) if the test process exits without it;
// - nothing here sleeps for a fixed time to "let things settle": helpers poll for a condition.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

export const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = resolve(WEB_DIR, '..');
export const ARTIFACTS = join(WEB_DIR, 'e2e', 'artifacts');
export const PUENTE_BIN = process.env.PUENTE_BIN
  ? resolve(process.env.PUENTE_BIN)
  : join(ROOT, 'target', 'debug', 'puente');
export const WAHA_IMAGE = process.env.PUENTE_WAHA_IMAGE || 'puente/waha-emulator:dev';
export const CHROMIUM = process.env.PUENTE_CHROMIUM || '/usr/bin/chromium';

/** The password `puente admin seed-demo` gives every demo account here. */
export const DEMO_PASSWORD = 'puente-demo-2026';

/** The accounts `puente admin seed-demo` creates (src/cli.rs). */
export const DEMO_ACCOUNTS = Object.freeze({
  operator: { email: 'ops@puente.example', password: DEMO_PASSWORD, name: 'Olga Operator', role: 'operator' },
  admin: { email: 'admin@costa-homes.example', password: DEMO_PASSWORD, name: 'Alba Admin', role: 'agency_admin' },
  agent: { email: 'agent@costa-homes.example', password: DEMO_PASSWORD, name: 'Diego Agent', role: 'agent' },
  buyer: { email: 'buyer@example.com', password: DEMO_PASSWORD, name: 'Bea Buyer', role: 'buyer' },
});

// Emulator timings for tests (as tests/api/helpers.rs `fleet_config`), so linking takes
// about a second instead of several.
const EMULATOR_ENV = [
  'EMULATOR_STARTING_MS=300',
  'EMULATOR_WAIT_RUNNING_MS=1000',
  'EMULATOR_WAIT_STATUS_MS=1000',
  'EMULATOR_ACK_SERVER_MS=100',
  'EMULATOR_ACK_DEVICE_MS=200',
  'EMULATOR_ACK_READ_MS=300',
  'WHATSAPP_HOOK_RETRIES_DELAY_SECONDS=1',
];

// ---------------------------------------------------------------------------------------------
// Small utilities

/** Poll `fn` until it returns a truthy value (returned), or throw after `timeout` ms. */
export async function waitFor(fn, { timeout = 30_000, interval = 200, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  let lastError;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      if (e?.fatal) throw e;
      lastError = e;
    }
    if (Date.now() > deadline) {
      const detail = lastError ? `; last error: ${lastError.message}` : `; last value: ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${detail}`);
    }
    await sleep(interval);
  }
}

function run(cmd, args, { env, input } = {}) {
  const r = spawnSync(cmd, args, { env: env ?? process.env, input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}${r.stderr}`);
  }
  return r.stdout;
}

function docker(args) {
  const r = spawnSync('docker', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: (r.stdout || '').trim(), err: (r.stderr || '').trim() };
}

/** A TCP port that was free a moment ago (on all interfaces, as Puente binds). */
export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '0.0.0.0', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

const secret = () => randomBytes(36).toString('base64url');
const slug = (s, max = 40) =>
  s.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, max) || 'e2e';

// ---------------------------------------------------------------------------------------------
// HTTP API

/** Raised by api() on a non-2xx answer; carries `status` and the parsed `body`. */
export class ApiError extends Error {
  constructor(method, path, status, body) {
    super(`${method} ${path} → ${status}: ${typeof body === 'string' ? body : JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
  }
}

/**
 * A tiny JSON client of `baseUrl` (bearer `token` optional).
 * `get/post/put/patch/delete(path, body?)` resolve to the parsed body (null when empty) and
 * throw ApiError on a non-2xx status; `raw(method, path, body?)` resolves to the Response.
 * Paths are relative to the server root: `/api/v1/me`.
 */
export function api(baseUrl, token) {
  const raw = (method, path, body) =>
    fetch(new URL(path, baseUrl), {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  const call = async (method, path, body) => {
    const resp = await raw(method, path, body);
    const text = await resp.text();
    let parsed = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (!resp.ok) throw new ApiError(method, path, resp.status, parsed);
    return parsed;
  };
  return {
    raw,
    get: (path) => call('GET', path),
    post: (path, body = {}) => call('POST', path, body),
    put: (path, body = {}) => call('PUT', path, body),
    patch: (path, body = {}) => call('PATCH', path, body),
    delete: (path) => call('DELETE', path),
  };
}

/**
 * Sign in through the API. Resolves to the token response plus helpers:
 * `{ access_token, refresh_token, user, ..., token, api }` where `api` is api(baseUrl, token).
 */
export async function login(baseUrl, email, password) {
  const body = await api(baseUrl).post('/api/v1/auth/login', { email, password });
  return { ...body, token: body.access_token, api: api(baseUrl, body.access_token) };
}

// ---------------------------------------------------------------------------------------------
// Puente

const live = new Set();

function killSync(p) {
  if (p.child && p.child.exitCode === null && p.child.signalCode === null) {
    try {
      p.child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

function removeInstance(instance) {
  const filter = `label=puente.instance=${instance}`;
  const ids = docker(['ps', '-aq', '--filter', filter]).out.split(/\s+/).filter(Boolean);
  if (ids.length) docker(['rm', '-f', '-v', ...ids]);
  const vols = docker(['volume', 'ls', '-q', '--filter', filter]).out.split(/\s+/).filter(Boolean);
  if (vols.length) docker(['volume', 'rm', '-f', ...vols]);
}

function dropDatabase(adminUrl, name) {
  spawnSync('psql', [adminUrl, '-qAtX', '-c', `drop database if exists "${name}" with (force)`], {
    encoding: 'utf8',
  });
}

// Whatever a test file leaves behind (a crash, a forgotten stop()) is removed on exit.
process.on('exit', () => {
  for (const p of live) {
    killSync(p);
    removeInstance(p.instance);
    if (!process.env.PUENTE_E2E_KEEP_DB) dropDatabase(p.adminUrl, p.database);
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => process.exit(128 + (sig === 'SIGINT' ? 2 : 15)));
}

/**
 * Start a Puente for one test file.
 *
 * Options: `name` (used in the instance, database and log file names), `env` (extra
 * PUENTE_* settings, they win over the defaults), `seed` (default true: `admin seed-demo`).
 *
 * Resolves to
 * `{ baseUrl, port, instance, database, databaseUrl, logFile, accounts, stop(), restart(opts),
 *    api(token), login(email, password), signIn(accountKey) }`.
 */
export async function startPuente({ name = 'e2e', env = {}, seed = true } = {}) {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    throw new Error(
      'DATABASE_URL is not set: point it at a PostgreSQL cluster, e.g. ' +
        '`source scripts/lib.sh; ensure_postgres /tmp/pg-e2e 55450; ' +
        'export DATABASE_URL=postgres://postgres@127.0.0.1:55450/postgres`',
    );
  }
  if (!existsSync(PUENTE_BIN)) throw new Error(`${PUENTE_BIN} is missing: run \`cargo build -p puente\``);
  const webDist = env.PUENTE_WEB_DIR ?? process.env.PUENTE_E2E_WEB_DIR ?? join(WEB_DIR, 'dist');
  if (!existsSync(join(webDist, 'index.html'))) {
    throw new Error(`${webDist}/index.html is missing: run \`npm run build\` in web/`);
  }

  const tag = `${slug(name)}-${randomBytes(4).toString('hex')}`;
  const instance = `e2e-${tag}`.slice(0, 60);
  const database = `e2e_${tag.replace(/-/g, '_')}`.slice(0, 63);
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${database}`;
  const databaseUrl = dbUrl.toString();
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), `puente-e2e-${tag}-`));
  const logDir = join(ARTIFACTS, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${tag}.log`);

  const childEnv = {
    ...process.env,
    NO_COLOR: '1',
    RUST_LOG: process.env.RUST_LOG || 'info,puente=debug,sqlx=warn,hyper=info,bollard=info',
    DATABASE_URL: databaseUrl,
    PUENTE_BIND: `0.0.0.0:${port}`,
    PUENTE_PUBLIC_URL: baseUrl,
    PUENTE_JWT_SECRET: secret(),
    PUENTE_MASTER_SECRET: secret(),
    PUENTE_INSTANCE: instance,
    PUENTE_WAHA_IMAGE: WAHA_IMAGE,
    PUENTE_WEB_DIR: webDist,
    PUENTE_DATA_DIR: dataDir,
    PUENTE_DEMO_PASSWORD: DEMO_PASSWORD,
    PUENTE_SHUTDOWN_GRACE_SECS: '2',
    PUENTE_RECONCILE_INTERVAL_SECS: '2',
    PUENTE_WAHA_MEMORY_MB: '128',
    PUENTE_WAHA_EXTRA_ENV: EMULATOR_ENV.join(','),
    // Tests sign in often; the limits have their own Rust tests.
    PUENTE_LOGIN_RATE_PER_IP: '10000',
    PUENTE_LOGIN_RATE_PER_ACCOUNT: '10000',
    ...env,
  };

  run('psql', [adminUrl, '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c', `create database "${database}"`]);
  const handle = { instance, database, adminUrl, child: null, stopped: false };
  live.add(handle);

  const log = createWriteStream(logFile, { flags: 'a' });
  const stamp = (what) => log.write(`\n===== ${new Date().toISOString()} ${what} =====\n`);
  try {
    stamp('puente migrate');
    log.write(run(PUENTE_BIN, ['migrate'], { env: childEnv }));
    if (seed) {
      stamp('puente admin seed-demo');
      log.write(run(PUENTE_BIN, ['admin', 'seed-demo'], { env: childEnv }));
    }
  } catch (e) {
    live.delete(handle);
    dropDatabase(adminUrl, database);
    throw e;
  }

  const tail = () => {
    try {
      return readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n');
    } catch {
      return '';
    }
  };

  async function spawnServe() {
    stamp('puente serve');
    const child = spawn(PUENTE_BIN, ['serve'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    handle.child = child;
    const exited = new Promise((ok) => child.once('exit', (code, signal) => ok({ code, signal })));
    handle.exited = exited;
    let gone = null;
    exited.then((r) => (gone = r));
    await waitFor(
      async () => {
        if (gone) {
          throw Object.assign(new Error(`puente serve exited (${gone.code ?? gone.signal})`), { fatal: true });
        }
        const r = await fetch(`${baseUrl}/readyz`).catch(() => null);
        return r?.ok;
      },
      { timeout: 60_000, interval: 100, what: `${baseUrl}/readyz` },
    ).catch((e) => {
      throw new Error(`${e.message}\n--- ${logFile} (tail) ---\n${tail()}`);
    });
  }

  async function kill(signal) {
    const child = handle.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const done = await Promise.race([handle.exited, sleep(15_000, null, { ref: false })]);
    if (!done) {
      child.kill('SIGKILL');
      await handle.exited;
    }
  }

  await spawnServe().catch(async (e) => {
    await kill('SIGKILL');
    live.delete(handle);
    removeInstance(instance);
    dropDatabase(adminUrl, database);
    throw e;
  });

  const puente = {
    baseUrl,
    port,
    instance,
    database,
    databaseUrl,
    logFile,
    dataDir,
    accounts: DEMO_ACCOUNTS,
    /** The server's process id (changes on restart). */
    get pid() {
      return handle.child?.pid;
    },
    /** api(baseUrl, token). */
    api: (token) => api(baseUrl, token),
    /** login(baseUrl, email, password). */
    login: (email, password) => login(baseUrl, email, password),
    /** Sign in a demo account by key: 'agent', 'admin', 'operator' or 'buyer'. */
    signIn: (key) => login(baseUrl, DEMO_ACCOUNTS[key].email, DEMO_ACCOUNTS[key].password),
    /**
     * Stop the server (SIGTERM by default, `{ signal: 'SIGKILL' }` for a crash) and start it
     * again on the same port and database; resolves once /readyz answers.
     */
    async restart({ signal = 'SIGTERM' } = {}) {
      if (handle.stopped) throw new Error('restart() after stop()');
      await kill(signal);
      await spawnServe();
    },
    /** Stop the server, remove the instance's containers and volumes, drop the database. */
    async stop() {
      if (handle.stopped) return;
      handle.stopped = true;
      await kill('SIGTERM');
      removeInstance(instance);
      if (!process.env.PUENTE_E2E_KEEP_DB) dropDatabase(adminUrl, database);
      rmSync(dataDir, { recursive: true, force: true });
      live.delete(handle);
      stamp('stopped');
      await new Promise((ok) => log.end(ok));
    },
  };
  return puente;
}

// ---------------------------------------------------------------------------------------------
// WhatsApp links through the API

/** GET the link until `pred(link)` holds; resolves to the link. */
export function waitForLink(baseUrl, token, linkId, pred, { timeout = 60_000, what = 'link state' } = {}) {
  const client = api(baseUrl, token);
  return waitFor(
    async () => {
      const link = await client.get(`/api/v1/whatsapp/links/${linkId}`);
      return pred(link) ? link : null;
    },
    { timeout, interval: 250, what },
  );
}

/**
 * Link a WhatsApp number for `session` (a login() result) without the UI: create the link,
 * scan its QR from the emulated phone, wait for `working`. Resolves to the link.
 */
export async function linkWhatsApp(baseUrl, session, { phone = '34600000001', pushName = 'Diego' } = {}) {
  const link = await session.api.post('/api/v1/whatsapp/links');
  await scanQr(link.id, { phone, pushName });
  return waitForLink(baseUrl, session.token, link.id, (l) => l.status === 'working', { what: 'link working' });
}

// ---------------------------------------------------------------------------------------------
// The emulated phone (the emulator's control API, waha/README.md)

/**
 * Where a link's emulator answers from this host, and its API key: `{ base, key }`. Read from
 * the container itself (published port on 127.0.0.1, WAHA_API_KEY in its env), so it follows
 * the container across restarts. Waits up to `timeout` ms for the container to run.
 */
export async function emulator(linkId, { timeout = 30_000 } = {}) {
  const name = `puente-waha-${String(linkId).replace(/-/g, '')}`;
  return waitFor(
    () => {
      const r = docker(['inspect', name]);
      if (!r.ok) return null;
      const [c] = JSON.parse(r.out);
      if (!c?.State?.Running) return null;
      const binding = c.NetworkSettings?.Ports?.['3000/tcp']?.[0];
      const env = Object.fromEntries((c.Config?.Env ?? []).map((kv) => [kv.split('=')[0], kv.slice(kv.indexOf('=') + 1)]));
      const key = env.WHATSAPP_API_KEY || env.WAHA_API_KEY;
      if (!binding?.HostPort || !key) return null;
      const host = !binding.HostIp || binding.HostIp === '0.0.0.0' ? '127.0.0.1' : binding.HostIp;
      return { base: `http://${host}:${binding.HostPort}`, key };
    },
    { timeout, interval: 200, what: `container ${name} running` },
  );
}

/** Call the control API of a link's session: `phoneControl(id, 'POST', 'inbound', {...})`. */
export async function phoneControl(linkId, method, action, body, { session = 'default' } = {}) {
  const { base, key } = await emulator(linkId);
  const path = action ? `/__emulator/sessions/${session}/${action}` : `/__emulator/sessions/${session}`;
  const resp = await fetch(`${base}${path}`, {
    method,
    headers: { 'x-api-key': key, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await resp.text();
  if (!resp.ok) throw new Error(`emulator ${method} ${path} → ${resp.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

const chatId = (who) => (String(who).includes('@') ? String(who) : `${String(who).replace(/\D/g, '')}@c.us`);

/**
 * The phone scans the link's QR (the emulator waits for SCAN_QR_CODE first). Resolves to the
 * emulator's answer; the link then turns `working` in Puente once the webhook lands.
 */
export function scanQr(linkId, { phone = '34600000001', pushName = 'Diego' } = {}) {
  return phoneControl(linkId, 'POST', 'scan', { phone: String(phone).replace(/\D/g, ''), pushName });
}

/**
 * A buyer writes to the linked number. `from` is a phone number ("34600000002") or a chat id
 * ("…@c.us", "…@lid"); `extra` adds control-API fields (`pushName`, `kind`, `replyTo`, …).
 * Resolves to `{ id }`, the WhatsApp message id.
 */
export function phoneSend(linkId, from, text, extra = {}) {
  return phoneControl(linkId, 'POST', 'inbound', { from: chatId(from), body: text, ...extra });
}

/**
 * What the linked number sent through WAHA (what the buyers' phones received), oldest first:
 * `[{ id, endpoint, chatId, kind, body, timestamp, request }]`.
 */
export function phoneInbox(linkId) {
  return phoneControl(linkId, 'GET', 'sent');
}

/** Every message the emulated session stores (both directions), oldest first. */
export function phoneMessages(linkId) {
  return phoneControl(linkId, 'GET', 'messages');
}

// ---------------------------------------------------------------------------------------------
// Browser

/** Headless Debian Chromium with the flags this network needs (no calls home). */
export function launchBrowser({ headless = true } = {}) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/**
 * A page in a fresh context (own cookies and storage) with `locale` (default 'en-US').
 * Records problems on `page.problems`: `{ console: [], pageErrors: [], csp: [] }` — console
 * messages of type error, uncaught exceptions, and Content-Security-Policy violations.
 * `allow` is a list of RegExps for console errors a test expects, matched against
 * "<text> (<url>:<line>)" (e.g. /status of 401/, or /\/api\/v1\/ws\/ticket/ for requests the
 * test aborts with page.route: Chromium logs those as "Failed to load resource").
 * Other options (isMobile, hasTouch, colorScheme, …) are passed to browser.newContext.
 * Check them with assertNoProblems(page).
 */
export async function newPage(
  browser,
  // `check` is withPage's; anything else (isMobile, hasTouch, colorScheme, …) goes to newContext.
  { locale = 'en-US', viewport = { width: 1280, height: 800 }, allow = [], check: _check, ...contextOptions } = {},
) {
  const context = await browser.newContext({ locale, viewport, timezoneId: 'Europe/Madrid', ...contextOptions });
  context.setDefaultTimeout(15_000);
  const problems = { console: [], pageErrors: [], csp: [] };
  await context.exposeBinding('__e2eCspViolation', (_source, v) => problems.csp.push(v));
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      // eslint-disable-next-line no-undef
      window.__e2eCspViolation({
        directive: e.effectiveDirective || e.violatedDirective,
        blocked: e.blockedURI,
        source: e.sourceFile ? `${e.sourceFile}:${e.lineNumber}` : '',
        sample: e.sample,
      });
    });
  });
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const loc = msg.location();
    // With the location: "Failed to load resource" names its URL only there.
    const line = loc?.url ? `${msg.text()} (${loc.url}:${loc.lineNumber})` : msg.text();
    if (allow.some((re) => re.test(line))) return;
    problems.console.push(line);
  });
  page.on('pageerror', (err) => problems.pageErrors.push(err.stack || String(err)));
  page.problems = problems;
  return page;
}

/** Throw if the page logged console errors, threw, or violated its CSP. */
export function assertNoProblems(page) {
  const { console: errs, pageErrors, csp } = page.problems;
  const lines = [
    ...errs.map((e) => `console error: ${e}`),
    ...pageErrors.map((e) => `uncaught: ${e}`),
    ...csp.map((v) => `CSP violation: ${JSON.stringify(v)}`),
  ];
  if (lines.length) throw new Error(`page problems on ${page.url()}:\n  ${lines.join('\n  ')}`);
}

/**
 * Save a full-page screenshot to web/e2e/artifacts/screenshots/<name>.png; resolves to the
 * path. `{ fullPage: false }` keeps to the viewport (a windowed list of thousands makes the
 * full page as tall as all its rows).
 */
export async function screenshot(page, name, { fullPage = true } = {}) {
  const dir = join(ARTIFACTS, 'screenshots');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${slug(name, 100)}.png`);
  await page.screenshot({ path, fullPage });
  return path;
}

/**
 * Sign in through the UI: fill "Email" and "Password", press "Sign in". Expects the
 * sign-in form on the current page (navigate to `${baseUrl}/` first).
 */
export async function signInUi(page, { email, password }) {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/**
 * Run `fn(page)` in a fresh page (newPage options in `opts`), then assertNoProblems(page)
 * unless `opts.check === false`. On failure the page is saved as
 * `screenshots/failed-<test name>.png` and its recorded problems are added to the error.
 * The context is closed either way. `t` is the node:test context (for the name).
 */
const pagesPerTest = new WeakMap();

export async function withPage(browser, t, fn, opts = {}) {
  const page = await newPage(browser, opts);
  // Nested pages of one test (a buyer and an agent) get their own failure screenshots.
  const nth = (pagesPerTest.get(t ?? withPage) ?? 0) + 1;
  pagesPerTest.set(t ?? withPage, nth);
  const shotName = `failed-${t?.name ?? 'test'}${nth > 1 ? `-page${nth}` : ''}`;
  let checking = false;
  try {
    const result = await fn(page);
    checking = true;
    if (opts.check !== false) assertNoProblems(page);
    return result;
  } catch (e) {
    const shot = await screenshot(page, shotName).catch(() => null);
    const { console: errs, pageErrors, csp } = page.problems;
    const extra = [
      `page: ${page.url()}`,
      shot && `screenshot: ${shot}`,
      // assertNoProblems' own message already lists them.
      ...(checking
        ? []
        : [
            ...errs.map((x) => `console error: ${x}`),
            ...pageErrors.map((x) => `uncaught: ${x}`),
            ...csp.map((v) => `CSP violation: ${JSON.stringify(v)}`),
          ]),
    ].filter(Boolean);
    if (e instanceof Error) e.message += `\n  ${extra.join('\n  ')}`;
    throw e;
  } finally {
    await page.context().close().catch(() => {});
  }
}
