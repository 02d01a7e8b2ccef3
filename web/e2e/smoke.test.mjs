// Smoke: the built app is served by Puente at `/` and on client routes, loads without console
// errors or CSP violations, and the demo agent can sign in through the form.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, screenshot, signInUi, startPuente, withPage } from './harness.mjs';

describe('smoke', () => {
  let puente;
  let browser;

  before(async () => {
    puente = await startPuente({ name: 'smoke' });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await puente?.stop();
  });

  // withPage fails a test on console errors, uncaught exceptions and CSP violations.
  test('the app loads at / under its CSP, with no console errors', (t) =>
    withPage(browser, t, async (page) => {
      const resp = await page.goto(`${puente.baseUrl}/`);
      assert.equal(resp.status(), 200);
      assert.match(resp.headers()['content-type'] ?? '', /text\/html/);
      // The CSP check means something only if the app is served with one.
      assert.match(resp.headers()['content-security-policy'] ?? '', /script-src 'self'/);
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      await page.waitForLoadState('networkidle');
      await screenshot(page, 'smoke-sign-in');
    }));

  test('a client route such as /inbox loads the app too, API paths stay JSON', (t) =>
    withPage(browser, t, async (page) => {
      const resp = await page.goto(`${puente.baseUrl}/inbox`);
      assert.equal(resp.status(), 200);
      assert.match(resp.headers()['content-type'] ?? '', /text\/html/);
      // Signed out, the app asks to sign in wherever it starts.
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      await page.waitForLoadState('networkidle');

      const api = await fetch(`${puente.baseUrl}/api/v1/no-such-thing`);
      assert.equal(api.status, 404);
      assert.match(api.headers.get('content-type') ?? '', /application\/problem\+json/);
    }));

  test('a Spanish browser gets the Spanish sign-in page', (t) =>
    withPage(
      browser,
      t,
      async (page) => {
        await page.goto(`${puente.baseUrl}/`);
        await page.getByRole('button', { name: 'Iniciar sesión' }).waitFor();
        assert.equal(await page.getByRole('button', { name: 'Sign in' }).count(), 0);
        await screenshot(page, 'smoke-sign-in-es');
      },
      { locale: 'es-ES' },
    ));

  test('the demo agent signs in through the form and sees the agent screen', (t) =>
    withPage(browser, t, async (page) => {
      await page.goto(`${puente.baseUrl}/`);
      await signInUi(page, puente.accounts.agent);

      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      const nav = page.getByRole('navigation', { name: 'Main' });
      await nav.getByRole('link', { name: 'Inbox' }).waitFor();
      await page.getByRole('link', { name: /Diego Agent/ }).waitFor();
      assert.equal(await page.getByRole('button', { name: 'Sign in' }).count(), 0);
      await page.waitForLoadState('networkidle');
      await screenshot(page, 'smoke-agent-signed-in');
    }));
});
