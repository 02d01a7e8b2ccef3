// The agent links their WhatsApp from the browser: one click, the QR code appears, the
// (emulated) phone scans it and the page turns to "linked" without a reload, the "not
// linked" alert goes away; then the phone unlinks the device and the alert appears in the
// inbox at once, and one click starts linking again.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  launchBrowser,
  phoneControl,
  scanQr,
  screenshot,
  signInUi,
  startPuente,
  waitFor,
  withPage,
} from './harness.mjs';

describe('WhatsApp link', () => {
  let puente;
  let browser;

  before(async () => {
    puente = await startPuente({ name: 'link' });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await puente?.stop();
  });

  const alert = (page) => page.getByRole('complementary', { name: 'WhatsApp link' });

  /** The agent's one link, through the API. */
  async function theLink() {
    const s = await puente.signIn('agent');
    const links = await s.api.get('/api/v1/whatsapp/links');
    assert.equal(links.length, 1);
    return links[0];
  }

  test('link by QR, live to linked; the phone unlinks and the inbox says so at once', (t) =>
    withPage(browser, t, async (page) => {
      await page.goto(`${puente.baseUrl}/`);
      await signInUi(page, puente.accounts.agent);

      // Never linked: the inbox carries the call to action.
      await alert(page).getByText('Your WhatsApp is not linked').waitFor();
      assert.equal(new URL(page.url()).pathname, '/inbox');
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'WhatsApp' }).click();
      await page.getByRole('heading', { name: 'Your WhatsApp', level: 1 }).waitFor();
      // A marker that a full reload would wipe.
      await page.evaluate(() => {
        window.__noReload = true;
      });

      await page.getByRole('button', { name: 'Link WhatsApp' }).click();
      const qr = page.getByRole('img', { name: /QR code to link WhatsApp\. Code 1 of 6/ });
      await qr.waitFor({ timeout: 60_000 });
      const src = await qr.getAttribute('src');
      assert.match(src ?? '', /^(data:image\/png;base64,|blob:)/);
      await page.getByText('Code 1 of 6', { exact: true }).waitFor();
      await page.getByText(/\d+ s left on this code/).waitFor();
      const steps = page.getByRole('list', { name: 'Linking steps' });
      assert.equal(await steps.locator('[aria-current="step"]').textContent(), '2Scan the QR code with your phone');
      // The QR's image really loads (data: or blob:, allowed by the CSP).
      await waitFor(() => qr.evaluate((img) => img.complete && img.naturalWidth > 100), { what: 'QR image decoded' });

      // The emulator is the phone: the simulated phone is offered, and it answers.
      const sim = page.getByRole('link', { name: /Open the simulated phone/ });
      await sim.waitFor();
      const href = await sim.getAttribute('href');
      assert.equal(await sim.getAttribute('target'), '_blank');
      const phonePage = await fetch(href);
      assert.equal(phonePage.status, 200);
      await screenshot(page, 'link-qr');

      const link = await theLink();
      assert.equal(link.status, 'scan_qr');
      await scanQr(link.id, { phone: '34600000001', pushName: 'Diego' });

      await page.getByRole('heading', { name: 'WhatsApp is linked' }).waitFor({ timeout: 30_000 });
      await page.getByText('+34 600 000 001').waitFor();
      await page.getByText('Diego', { exact: true }).waitFor();
      await page.getByText('Linked since').waitFor();
      assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was not reloaded');
      assert.equal(await page.getByRole('img', { name: /QR code/ }).count(), 0);
      await screenshot(page, 'link-linked');

      // Linked: no alert over the inbox.
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /Inbox/ }).click();
      await waitFor(async () => new URL(page.url()).pathname === '/inbox', { what: 'inbox' });
      await page.waitForLoadState('networkidle');
      assert.equal(await alert(page).count(), 0, 'no link alert while linked');

      // The phone unlinks the device (WhatsApp › Linked devices › Log out): the inbox says
      // so at once, without a reload.
      await phoneControl(link.id, 'POST', 'logout');
      const dropped = alert(page);
      await dropped.getByText('Your WhatsApp was unlinked').waitFor({ timeout: 30_000 });
      assert.match(await dropped.textContent(), /Link again and scan the new QR code/);
      assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was not reloaded');
      await screenshot(page, 'link-dropped-inbox');

      // One click from the alert: a new session and a new QR code.
      await dropped.getByRole('button', { name: 'Link again' }).click();
      await waitFor(async () => new URL(page.url()).pathname === '/whatsapp', { what: 'link screen' });
      await page.getByRole('img', { name: /QR code to link WhatsApp/ }).waitFor({ timeout: 60_000 });
      await scanQr(link.id, { phone: '34600000001', pushName: 'Diego' });
      await page.getByRole('heading', { name: 'WhatsApp is linked' }).waitFor({ timeout: 30_000 });
    }));

  test('unlinking from the app is confirmed, and a new QR code follows', (t) =>
    withPage(browser, t, async (page) => {
      await page.goto(`${puente.baseUrl}/`);
      await signInUi(page, puente.accounts.agent);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'WhatsApp' }).click();
      await page.getByRole('heading', { name: 'WhatsApp is linked' }).waitFor({ timeout: 30_000 });

      await page.getByRole('button', { name: 'Unlink this phone' }).click();
      const dialog = page.getByRole('dialog', { name: 'Unlink +34 600 000 001?' });
      await dialog.waitFor();
      assert.match(await dialog.textContent(), /Your conversations stay/);
      await dialog.getByRole('button', { name: 'Unlink', exact: true }).click();
      await page.getByRole('img', { name: /QR code to link WhatsApp/ }).waitFor({ timeout: 60_000 });
      const link = await theLink();
      assert.equal(link.status, 'scan_qr');
      assert.equal(link.phone ?? null, null);
    }));
});

describe('WhatsApp link: QR rotation and expiry', () => {
  let puente;
  let browser;

  before(async () => {
    // Fast codes: 4 s, then 3 s each, 3 codes per attempt (the harness's other emulator
    // timings, repeated here because this list replaces them).
    puente = await startPuente({
      name: 'link-rotation',
      env: {
        PUENTE_WAHA_EXTRA_ENV: [
          'EMULATOR_STARTING_MS=300',
          'EMULATOR_WAIT_RUNNING_MS=1000',
          'EMULATOR_WAIT_STATUS_MS=1000',
          'WHATSAPP_HOOK_RETRIES_DELAY_SECONDS=1',
          'EMULATOR_QR_FIRST_MS=4000',
          'EMULATOR_QR_NEXT_MS=3000',
          'EMULATOR_QR_COUNT=3',
        ].join(','),
      },
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await puente?.stop();
  });

  test('each new code replaces the last one live; an expired attempt offers a new code', (t) =>
    withPage(browser, t, async (page) => {
      await page.goto(`${puente.baseUrl}/whatsapp`);
      await signInUi(page, puente.accounts.agent);
      await page.getByRole('button', { name: 'Link WhatsApp' }).click();
      const first = page.getByRole('img', { name: /Code 1 of 6/ });
      await first.waitFor({ timeout: 60_000 });
      const src1 = await first.getAttribute('src');
      const second = page.getByRole('img', { name: /Code 2 of 6/ });
      await second.waitFor({ timeout: 30_000 });
      assert.notEqual(await second.getAttribute('src'), src1, 'a new image for the new code');
      // Later codes count down from 20 s (WAHA's), restarted at the code's arrival.
      const left = Number((await page.getByText(/\d+ s left on this code/).textContent()).match(/\d+/)[0]);
      assert.ok(left > 10 && left <= 20, `seconds left on code 2: ${left}`);

      const expired = page.getByRole('heading', { name: 'The QR code expired' });
      await expired.waitFor({ timeout: 30_000 });
      assert.equal(await page.getByRole('img', { name: /QR code/ }).count(), 0);
      await screenshot(page, 'link-qr-expired');
      await page.getByRole('button', { name: 'Get a new QR code' }).click();
      await page.getByRole('img', { name: /Code 1 of 6/ }).waitFor({ timeout: 60_000 });
    }));
});
