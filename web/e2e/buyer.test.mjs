// The buyer's journey: sign up in the app, find a listing by searching, open it, write to its
// agent; the agent (another browser) sees the conversation appear live in the inbox and
// answers; both sides see typing, the messages and the read receipts live. The buyer uses a
// phone-sized window. Also: the staff's listings manager and the agency admin's team screen.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deflateSync } from 'node:zlib';
import { launchBrowser, screenshot, signInUi, startPuente, waitFor, withPage } from './harness.mjs';

const PHONE = { width: 375, height: 740 };

/** A small RGB PNG (a gradient), so listings get real, decodable photos. */
function png(w, h, [r, g, b]) {
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const x of buf) c = table[(c ^ x) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3;
      raw[o] = (r + y) & 255;
      raw[o + 1] = (g + x) & 255;
      raw[o + 2] = b;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

async function addPhoto(baseUrl, session, listingId, color) {
  const res = await fetch(`${baseUrl}/api/v1/files?name=photo.png`, {
    method: 'POST',
    headers: { authorization: `Bearer ${session.token}`, 'content-type': 'image/png' },
    body: png(480, 360, color),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const file = await res.json();
  await session.api.post(`/api/v1/properties/${listingId}/photos`, { file_id: file.id });
}

describe('buyer', () => {
  let puente;
  let browser;
  let agent;
  let listing;

  before(async () => {
    puente = await startPuente({ name: 'buyer' });
    browser = await launchBrowser();
    agent = await puente.signIn('agent');
    listing = await agent.api.post('/api/v1/properties', {
      title: 'Penthouse with rooftop terrace',
      description: 'Top floor, 120 m², a rooftop terrace with sea views.\nLift, parking.',
      price_cents: 48_500_000,
      currency: 'EUR',
      address: 'Calle Larios 12',
      city: 'Málaga',
      property_type: 'apartment',
    });
    await addPhoto(puente.baseUrl, agent, listing.id, [40, 120, 200]);
    await addPhoto(puente.baseUrl, agent, listing.id, [200, 80, 40]);
    // Another listing the search must leave out.
    await agent.api.post('/api/v1/properties', { title: 'Country house', price_cents: 20_000_000, city: 'Ronda', property_type: 'house' });
  });

  after(async () => {
    await browser?.close();
    await puente?.stop();
  });

  test('a new buyer finds a listing, writes to its agent, and they talk live', (t) =>
    withPage(browser, t, (agentPage) =>
      withPage(
        browser,
        t,
        async (page) => {
          // The agent waits in the inbox.
          await agentPage.goto(`${puente.baseUrl}/`);
          await signInUi(agentPage, puente.accounts.agent);
          await agentPage.waitForURL(/\/inbox/);

          // A buyer signs up on a phone.
          await page.goto(`${puente.baseUrl}/`);
          await page.getByRole('button', { name: 'Create an account' }).or(page.getByRole('link', { name: 'Create an account' })).first().click();
          await page.getByLabel('Your name').fill('Lucía Compradora');
          await page.getByLabel('Email').fill('lucia@example.com');
          await page.getByLabel('Password', { exact: true }).fill('una casa junto al mar 2026');
          await page.getByRole('button', { name: 'Create account' }).click();
          await page.waitForURL(/\/listings$/);

          // Search by words: only the penthouse matches, and the filter is in the URL.
          const search = page.getByLabel('What are you looking for?');
          await search.fill('rooftop');
          await search.press('Enter');
          await page.waitForURL(/\/listings\?q=rooftop$/);
          await page.getByText('1 home found').waitFor();
          assert.equal(await page.getByRole('link', { name: /Country house/ }).count(), 0);
          await page.locator('.home-card img').first().waitFor();
          await screenshot(page, 'buyer-search-phone');

          // The listing page: price, photos, agent.
          await page.getByRole('link', { name: /Penthouse with rooftop terrace/ }).click();
          await page.getByRole('heading', { name: 'Penthouse with rooftop terrace' }).waitFor();
          // (The "more from this agent" cards below may show prices too.)
          await page.locator('.listing-price').getByText('€485,000').waitFor();
          await page.getByText('Diego Agent', { exact: true }).waitFor();
          await page.locator('.home-gallery-main img').waitFor();
          await screenshot(page, 'buyer-listing-page');

          // Back returns to the same search.
          await page.goBack();
          await page.waitForURL(/\/listings\?q=rooftop$/);
          await page.getByRole('link', { name: /Penthouse with rooftop terrace/ }).click();

          await page.getByRole('button', { name: 'Message the agent' }).click();
          await page.waitForURL(/\/chats\/[0-9a-f-]{36}$/);
          const conversationId = page.url().split('/').pop();

          // The conversation appears in the agent's inbox by itself.
          const row = agentPage.getByRole('link', { name: /Lucía Compradora/ });
          await row.waitFor({ timeout: 20_000 });

          // The buyer writes; the agent sees it live.
          const composer = page.getByLabel('Write a message');
          await composer.fill('Hola, ¿sigue disponible el ático?');
          await page.getByRole('button', { name: 'Send', exact: true }).click();
          await agentPage.getByText('Hola, ¿sigue disponible el ático?').first().waitFor();

          // The agent opens it: the buyer's message turns "read" on the buyer's screen.
          await row.click();
          await agentPage.waitForURL(new RegExp(`/inbox/${conversationId}`));
          const buyerBubble = page.locator('[data-tick]').last();
          await waitFor(async () => (await buyerBubble.getAttribute('data-tick')) === 'read', { what: "the buyer's read receipt" });

          // The agent types: the buyer sees it. Then the answer arrives live.
          const agentComposer = agentPage.getByLabel('Write a message');
          await agentComposer.pressSequentially('Sí, ', { delay: 30 });
          await page.getByRole('region', { name: 'Diego Agent' }).getByText('typing…').waitFor();
          await agentComposer.pressSequentially('todavía está disponible.', { delay: 10 });
          await agentPage.getByRole('button', { name: 'Send', exact: true }).click();
          await page.getByText('Sí, todavía está disponible.').waitFor();

          // The buyer has read it: the agent's tick turns "read".
          const agentTick = agentPage.locator('[data-tick]').last();
          await waitFor(async () => (await agentTick.getAttribute('data-tick')) === 'read', { what: "the agent's read receipt" });

          // And the buyer typing shows on the agent's side. (The server lets one typing frame
          // per conversation through every 2 s, and the "stopped" frame sent with the first
          // message may be that one: type for longer than that, as people do.)
          await page.getByLabel('Write a message').pressSequentially('¿Podría visitarlo el sábado por la mañana, hacia las diez?', { delay: 100 });
          // (In the thread's header; the inbox row shows it too.)
          await agentPage.getByRole('region', { name: 'Lucía Compradora' }).getByText('typing…').waitFor();
          await screenshot(page, 'buyer-chat-phone');
          await screenshot(agentPage, 'buyer-chat-agent-side');

          // The chat list shows the conversation with its last message.
          await page.getByRole('button', { name: 'Back' }).first().click();
          await page.waitForURL(/\/chats$/);
          await page.getByRole('link', { name: /Diego Agent/ }).getByText('Sí, todavía está disponible.').waitFor();
        },
        { viewport: PHONE },
      ),
    ));

  test('the buyer blocks and reports the agent from the chat, and unblocks', (t) =>
    withPage(
      browser,
      t,
      async (page) => {
        await page.goto(`${puente.baseUrl}/`);
        await signInUi(page, { email: 'lucia@example.com', password: 'una casa junto al mar 2026' });
        await page.waitForURL(/\/listings/);
        await page.getByRole('link', { name: /chats/i }).first().click();
        await page.getByRole('link', { name: /Diego Agent/ }).click();
        await page.getByRole('button', { name: 'Block' }).click();
        await page.getByRole('dialog').getByRole('button', { name: 'Block' }).click();
        await page.getByText('You blocked Diego Agent').waitFor();
        const blocks = await (await puente.login('lucia@example.com', 'una casa junto al mar 2026')).api.get('/api/v1/blocks');
        assert.equal(blocks.length, 1);

        await page.getByRole('button', { name: 'Report' }).click();
        const dialog = page.getByRole('dialog');
        await dialog.getByRole('button', { name: 'Send report' }).click();
        await dialog.getByText('Describe what happened.').waitFor();
        await dialog.getByLabel('What happened?').fill('Asked me to pay a deposit outside the app.');
        await dialog.getByRole('button', { name: 'Send report' }).click();
        await page.getByText('Your report has been sent').waitFor();

        await page.getByRole('button', { name: 'Unblock' }).first().click();
        await page.getByText('You blocked Diego Agent').waitFor({ state: 'detached' });
      },
      { viewport: PHONE },
    ));

  test('staff create a listing with photos and retire it; the agency admin invites an agent', (t) =>
    withPage(browser, t, async (page) => {
      await page.goto(`${puente.baseUrl}/`);
      await signInUi(page, puente.accounts.admin);
      await page.waitForURL(/\/inbox/);
      await page.getByRole('link', { name: 'Listings' }).first().click();
      await page.getByRole('link', { name: /New listing/ }).first().click();
      await page.getByLabel('Title').fill('Studio by the port');
      await page.getByRole('button', { name: 'Create listing' }).click();
      await page.getByText('Check the highlighted fields.').waitFor();
      await page.getByLabel('Price').fill('150.000');
      await page.getByLabel('Type').selectOption('apartment');
      await page.getByLabel('City').fill('Málaga');
      await page.getByRole('button', { name: 'Create listing' }).click();
      await page.waitForURL(/\/listings\/[0-9a-f-]{36}$/);
      await page.locator('input[type=file]').setInputFiles([
        { name: 'one.png', mimeType: 'image/png', buffer: png(400, 300, [10, 200, 90]) },
        { name: 'two.png', mimeType: 'image/png', buffer: png(400, 300, [220, 30, 90]) },
      ]);
      await waitFor(async () => (await page.locator('.photo-tile img').count()) === 2, { what: 'two photos' });
      await page.getByRole('button', { name: 'Take off the market' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Take off the market' }).click();
      await page.getByText('Buyers cannot see this listing').waitFor();
      await screenshot(page, 'listings-editor');

      await page.getByRole('link', { name: 'Agency' }).first().click();
      await page.getByText('Diego Agent').waitFor();
      await page.getByLabel('Email (optional)').fill('nuevo@costa-homes.example');
      await page.getByRole('button', { name: 'Create invite' }).click();
      const link = await page.getByLabel('Sign-up link').inputValue();
      assert.match(link, /\/join\?invite=[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}$/);
      await screenshot(page, 'agency-invite');
      await page.getByRole('button', { name: 'Done' }).click();
      await page.getByText('For nuevo@costa-homes.example').waitFor();
    }));
});
