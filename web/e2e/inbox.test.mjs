// The agent's live inbox against a real Puente and the WAHA emulator: a buyer's WhatsApp
// message appears in the open inbox without a reload; the agent's reply reaches the phone
// while its ticks move sent → delivered → read as the phone acknowledges it; messages that
// arrive while the agent's socket is down appear once it reconnects. Screenshots of the
// inbox with a thread open, desktop and phone.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  launchBrowser,
  linkWhatsApp,
  phoneControl,
  phoneInbox,
  phoneSend,
  screenshot,
  signInUi,
  startPuente,
  waitFor,
  withPage,
} from './harness.mjs';

// Acks only when the test says so, so each tick can be seen (server ack stays automatic).
const EMULATOR_ENV = [
  'EMULATOR_STARTING_MS=300',
  'EMULATOR_WAIT_RUNNING_MS=1000',
  'EMULATOR_WAIT_STATUS_MS=1000',
  'EMULATOR_ACK_SERVER_MS=100',
  'EMULATOR_ACK_DEVICE_MS=off',
  'EMULATOR_ACK_READ_MS=off',
  'WHATSAPP_HOOK_RETRIES_DELAY_SECONDS=1',
].join(',');

const BUYER_PHONE = '34622222222';

/** Record the page's WebSockets so a test can drop them. */
function trackSockets(page) {
  return page.addInitScript(() => {
    const Native = window.WebSocket;
    const list = [];
    Object.defineProperty(window, '__sockets', { value: list });
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        list.push(this);
      }
    };
  });
}

async function openInbox(page, puente) {
  await page.goto(`${puente.baseUrl}/inbox`);
  await signInUi(page, puente.accounts.agent);
  await page.getByRole('heading', { name: 'Inbox' }).waitFor();
}

const bubble = (page, text) => page.locator('[data-message-id]', { hasText: text });

describe('inbox', () => {
  let puente;
  let browser;
  let agent;
  let link;

  before(async () => {
    puente = await startPuente({ name: 'inbox', env: { PUENTE_WAHA_EXTRA_ENV: EMULATOR_ENV } });
    browser = await launchBrowser();
    agent = await puente.signIn('agent');
    link = await linkWhatsApp(puente.baseUrl, agent);
  });

  after(async () => {
    await browser?.close();
    await puente?.stop();
  });

  test('a WhatsApp message appears in the open inbox without a reload', (t) =>
    withPage(browser, t, async (page) => {
      await openInbox(page, puente);
      await phoneSend(link.id, BUYER_PHONE, 'Hola, ¿sigue disponible el piso de la playa?', { pushName: 'Carla Compradora' });
      const row = page.getByRole('link', { name: /Carla Compradora/ });
      await row.waitFor({ timeout: 20_000 });
      assert.match(await row.innerText(), /sigue disponible/);
      await row.click();
      await bubble(page, 'sigue disponible').waitFor();
      // The thread is open: the next message lands in it live.
      await phoneSend(link.id, BUYER_PHONE, '¿Se admiten mascotas?', { pushName: 'Carla Compradora' });
      await bubble(page, 'mascotas').waitFor({ timeout: 20_000 });
      // Read while on screen: the unread badge does not stay on the row.
      await waitFor(async () => !(await row.innerText()).match(/\bunread\b/), { what: 'no unread badge' });
    }));

  test('the reply reaches the phone and its ticks move sent → delivered → read', (t) =>
    withPage(browser, t, async (page) => {
      await openInbox(page, puente);
      await page.getByRole('link', { name: /Carla Compradora/ }).click();
      const text = 'Sí, sigue disponible. ¿Quiere verlo el sábado?';
      const box = page.getByLabel('Write a message');
      await box.fill(text);
      await box.press('Enter');
      const mine = bubble(page, text);
      await mine.waitFor();
      const received = await waitFor(async () => (await phoneInbox(link.id)).find((m) => m.body === text), {
        what: 'the reply on the phone',
      });
      assert.match(received.chatId, new RegExp(BUYER_PHONE));
      const status = () => mine.getAttribute('data-status');
      await waitFor(async () => (await status()) === 'sent', { what: 'tick: sent' });
      await phoneControl(link.id, 'POST', 'ack', { messageId: received.id, ack: 2 });
      await waitFor(async () => (await status()) === 'delivered', { what: 'tick: delivered' });
      await phoneControl(link.id, 'POST', 'ack', { messageId: received.id, ack: 3 });
      await waitFor(async () => (await status()) === 'read', { what: 'tick: read' });
      assert.equal(await mine.getByText('Read', { exact: true }).count(), 1);
    }));

  test('messages sent while the socket is down appear after it reconnects', (t) =>
    withPage(browser, t, async (page) => {
      await trackSockets(page);
      await openInbox(page, puente);
      await page.getByRole('link', { name: /Carla Compradora/ }).click();
      await bubble(page, 'mascotas').waitFor();
      // Drop the socket and keep it down: no new tickets until the messages are in.
      await page.route('**/api/v1/ws/ticket', (r) => r.abort());
      await page.evaluate(() => window.__sockets.forEach((s) => s.close()));
      await page.getByText('Reconnecting…').first().waitFor();
      await phoneSend(link.id, BUYER_PHONE, 'Perdone, una pregunta más', { pushName: 'Carla Compradora' });
      await phoneSend(link.id, '34633333333', 'Buenas, me interesa el ático', { pushName: 'Nuevo Contacto' });
      const convs = await agent.api.get('/api/v1/conversations');
      await waitFor(
        async () => (await agent.api.get('/api/v1/conversations')).items.some((c) => c.last_message?.preview === 'Buenas, me interesa el ático'),
        { what: 'Puente has the messages' },
      );
      assert.ok(convs);
      assert.equal(await bubble(page, 'una pregunta más').count(), 0);
      await page.unroute('**/api/v1/ws/ticket');
      await page.evaluate(() => window.dispatchEvent(new Event('online')));
      await bubble(page, 'una pregunta más').waitFor({ timeout: 30_000 });
      await page.getByRole('link', { name: /Nuevo Contacto/ }).waitFor({ timeout: 30_000 });
    }));

  test('screenshots: the inbox with a thread open, desktop and phone', async (t) => {
    // An in-app conversation about a listing, next to the WhatsApp ones.
    const buyer = await puente.signIn('buyer');
    const listings = await buyer.api.get('/api/v1/properties');
    const listing = listings.items?.[0];
    if (listing) {
      const c = await buyer.api.post('/api/v1/conversations', { property_id: listing.id });
      await buyer.api.post(`/api/v1/conversations/${c.id}/messages`, { client_id: 'e2e-inapp-1', body: '¿Puedo visitar el piso esta semana?' });
    }
    await phoneSend(link.id, BUYER_PHONE, 'Aquí está mi ubicación', { pushName: 'Carla Compradora', kind: 'location' });
    for (const [name, viewport] of [
      ['inbox-desktop', { width: 1280, height: 800 }],
      ['inbox-phone', { width: 375, height: 740 }],
    ]) {
      await withPage(
        browser,
        t,
        async (page) => {
          await openInbox(page, puente);
          await page.getByRole('link', { name: /Carla Compradora/ }).click();
          await bubble(page, 'Sí, sigue disponible').waitFor();
          await page.waitForLoadState('networkidle');
          await screenshot(page, name);
          if (viewport.width < 500) {
            await page.getByRole('button', { name: 'Back to the conversations' }).click();
            await page.getByRole('heading', { name: 'Inbox' }).waitFor();
            await screenshot(page, `${name}-list`);
          }
        },
        { viewport },
      );
    }
  });
});
