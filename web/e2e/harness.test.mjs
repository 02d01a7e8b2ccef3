// The harness's own checks, through the API only (the UI tests build on these helpers):
// linking a number with the emulated phone, a buyer writing in, the agent's reply reaching
// the phone, and a crashed Puente coming back on the same port and database.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { linkWhatsApp, phoneInbox, phoneSend, startPuente, waitFor, waitForLink } from './harness.mjs';

describe('harness', () => {
  let puente;
  let agent;
  let link;

  before(async () => {
    puente = await startPuente({ name: 'harness' });
    agent = await puente.signIn('agent');
  });

  after(async () => {
    await puente?.stop();
  });

  test('linkWhatsApp links the agent through the emulated phone', async () => {
    link = await linkWhatsApp(puente.baseUrl, agent, { phone: '34611111111', pushName: 'Diego' });
    assert.equal(link.status, 'working');
    assert.match(link.phone ?? '', /34611111111/);
  });

  test('phoneSend reaches the inbox and the reply reaches phoneInbox', async () => {
    assert.ok(link, 'needs the linked number of the previous test');
    await phoneSend(link.id, '34622222222', 'Hola, ¿sigue disponible el piso?', { pushName: 'Bea' });
    const conv = await waitFor(
      async () => {
        const page = await agent.api.get('/api/v1/conversations');
        return page.items.find((c) => JSON.stringify(c).includes('34622222222'));
      },
      { what: 'the WhatsApp conversation in the agent inbox' },
    );
    const messages = await agent.api.get(`/api/v1/conversations/${conv.id}/messages`);
    assert.ok(
      messages.some((m) => m.body === 'Hola, ¿sigue disponible el piso?'),
      JSON.stringify(messages),
    );

    await agent.api.post(`/api/v1/conversations/${conv.id}/messages`, {
      client_id: randomUUID(),
      body: 'Sí, ¿cuándo quiere verlo?',
    });
    const sent = await waitFor(
      async () => (await phoneInbox(link.id)).find((m) => m.body === 'Sí, ¿cuándo quiere verlo?'),
      { what: 'the reply on the phone' },
    );
    assert.match(sent.chatId, /34622222222/);
  });

  test('restart after SIGKILL serves again on the same port and database', async () => {
    const before = puente.pid;
    await puente.restart({ signal: 'SIGKILL' });
    assert.notEqual(puente.pid, before);
    const again = await puente.signIn('agent');
    const links = await again.api.get('/api/v1/whatsapp/links');
    assert.equal(links.length, 1);
    if (link) {
      await waitForLink(puente.baseUrl, again.token, link.id, (l) => l.status === 'working', {
        what: 'link still working after the restart',
      });
    }
  });
});
