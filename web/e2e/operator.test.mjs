// The operator's console end to end: an agent links a number through the API; the operator
// signs in, finds the link in the live fleet, restarts it from the link page and watches its
// status go starting → working without a reload, and reads (and follows) its logs; a fleet
// of thousands stays windowed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, scanQr, screenshot, signInUi, startPuente, waitFor, waitForLink, withPage } from './harness.mjs';

describe('operator console', () => {
  let puente;
  let browser;
  let link;

  before(async () => {
    puente = await startPuente({ name: 'operator' });
    browser = await launchBrowser();
    const agent = await puente.signIn('agent');
    // Link as a person would: scan once Puente shows the QR (scanning the instant the emulator
    // offers it lets its SCAN_QR_CODE and WORKING webhooks race on the server).
    const created = await agent.api.post('/api/v1/whatsapp/links');
    await waitForLink(puente.baseUrl, agent.token, created.id, (l) => l.status === 'scan_qr', { what: 'link scanning' });
    await scanQr(created.id, { phone: '34600123456', pushName: 'Diego' });
    link = await waitForLink(puente.baseUrl, agent.token, created.id, (l) => l.status === 'working', { what: 'link working' });
  });

  after(async () => {
    await browser?.close();
    await puente?.stop();
  });

  async function signInOperator(page) {
    await page.goto(`${puente.baseUrl}/`);
    await signInUi(page, puente.accounts.operator);
    await page.waitForURL('**/fleet');
  }

  test('the fleet shows the link live; restart from its page goes starting → working; logs follow', (t) =>
    withPage(browser, t, async (page) => {
      await signInOperator(page);
      const row = page.locator(`tr[data-link="${link.id}"]`);
      await row.waitFor();
      await row.getByText('Working', { exact: true }).waitFor();
      await row.getByText('+34600123456').waitFor();
      // usage figures arrive with the poll: memory with its unit
      await waitFor(async () => /MiB|KiB/.test(await row.innerText()), { what: 'memory figure', timeout: 20_000 });
      const summary = page.getByRole('list', { name: 'Links by status' });
      await summary.getByRole('button', { name: /1\s*Working/ }).waitFor();

      // sorting by a header sets aria-sort
      const agentHeader = page.getByRole('columnheader', { name: /Agent/ });
      await agentHeader.getByRole('button').click();
      assert.equal(await agentHeader.getAttribute('aria-sort'), 'ascending');
      await agentHeader.getByRole('button').click();
      assert.equal(await agentHeader.getAttribute('aria-sort'), 'descending');

      // search filters the table
      await page.getByLabel('Search agent or phone').fill('nobody-here');
      await page.getByText('No link matches these filters').waitFor();
      await page.getByLabel('Search agent or phone').fill('600 123');
      await row.waitFor();
      await screenshot(page, 'operator-fleet');

      // open the link page (client-side navigation) and mark the document to detect a reload
      await row.getByRole('link', { name: /Diego Agent/ }).click();
      await page.waitForURL(`**/fleet/${link.id}`);
      await page.getByRole('heading', { name: 'WhatsApp of Diego Agent' }).waitFor();
      await page.evaluate(() => {
        window.__e2eMarker = 'same-document';
        window.__e2eStatuses = [];
        const read = () => {
          const s = document.querySelector('.op-live-status [data-status]')?.getAttribute('data-status');
          const list = window.__e2eStatuses;
          if (s && list[list.length - 1] !== s) list.push(s);
        };
        read();
        new MutationObserver(read).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
      });

      // logs: the last lines are there
      const logs = page.getByTestId('link-logs');
      await waitFor(async () => /WAHA emulator listening/.test(await logs.innerText()), { what: 'log tail', timeout: 20_000 });
      const listening = async () => ((await logs.innerText()).match(/WAHA emulator listening/g) ?? []).length;
      const before = await listening();

      // restart, confirmed in a dialog that says the login survives
      await page.getByRole('button', { name: 'Restart', exact: true }).click();
      const dialog = page.getByRole('dialog', { name: 'Restart this session?' });
      await dialog.getByText(/login is kept/).waitFor();
      await dialog.getByRole('button', { name: 'Restart', exact: true }).click();
      await page.getByText('Restart requested.').waitFor({ timeout: 30_000 });

      // live: starting, then working again, without a reload
      await waitFor(
        async () => {
          const seen = await page.evaluate(() => window.__e2eStatuses);
          const i = seen.indexOf('starting');
          return i >= 0 && seen.slice(i + 1).includes('working') ? seen : null;
        },
        { what: 'status starting → working', timeout: 60_000, interval: 250 },
      );
      assert.equal(await page.evaluate(() => window.__e2eMarker), 'same-document');
      await page.locator('.op-live-status').getByText('Working').waitFor();
      // …and the page lists the changes it saw
      const changes = page.getByRole('list').filter({ has: page.locator('.op-history-time') });
      await changes.getByText('Starting').waitFor();
      await changes.getByText('Working').last().waitFor();

      // following: the restarted emulator's start-up lines arrive without reloading the logs
      await waitFor(async () => (await listening()) > before, { what: 'new log lines after restart', timeout: 30_000 });
      await page.getByText(/Following new lines/).waitFor();
      await logs.scrollIntoViewIfNeeded();
      await screenshot(page, 'operator-link-logs');

      // the fleet (client-side) shows it working with one restart by Puente
      await page.getByRole('link', { name: /Back to the fleet/ }).click();
      await page.waitForURL('**/fleet*');
      await row.getByText('Working', { exact: true }).waitFor();
      await waitFor(async () => (await row.locator('td').nth(4).innerText()).trim().startsWith('1'), { what: 'restart counted', timeout: 20_000 });
      assert.equal(await page.evaluate(() => window.__e2eMarker), 'same-document');

      // the audit log has the restart
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
      await page.getByRole('cell', { name: /Restarted a link/ }).first().waitFor();
    }));

  test('a report is resolved with an outcome and a note, then shows in the audit log', (t) =>
    withPage(browser, t, async (page) => {
      const buyer = await puente.signIn('buyer');
      const agent = await puente.signIn('agent');
      await buyer.api.post(`/api/v1/users/${agent.user.id}/report`, {
        reason: 'Keeps messaging me at night after I said no.',
      });
      await signInOperator(page);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Reports' }).click();
      const row = page.locator('tr[data-report]', { hasText: 'Keeps messaging me at night' });
      await row.getByText('Open', { exact: true }).waitFor();
      await row.getByRole('button', { name: /Resolve the report about Diego Agent/ }).click();
      const dialog = page.getByRole('dialog', { name: 'Close the report' });
      await dialog.getByText('Bea Buyer reported Diego Agent:').waitFor();
      await dialog.getByRole('radio', { name: /Dismissed/ }).check();
      await dialog.getByLabel('Note for the other operators').fill('Talked to both; a misunderstanding.');
      await dialog.getByRole('button', { name: 'Close report' }).click();
      await page.getByText('Report closed as dismissed.').waitFor();
      // gone from the open queue, listed under Dismissed with the note
      await page.getByText('No open reports. All clear.').waitFor();
      await page.getByRole('button', { name: 'Dismissed', exact: true }).click();
      await row.getByText('“Talked to both; a misunderstanding.”').waitFor();
      await row.getByText(/Closed by you/).waitFor();

      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
      // the filter is the server's, kept in the address: a reload asks for the same entries
      await page.getByLabel('Action').selectOption({ label: 'Closed a report' });
      await page.waitForURL(/[?&]action=report\.resolve\b/);
      await page.getByText('Entries matching the filters: 1 loaded.').waitFor();
      await page.getByRole('cell', { name: /status: dismissed/ }).waitFor();
      assert.equal(await page.locator('table.op-audit tbody tr').count(), 1);
      await page.reload();
      await page.getByText('Entries matching the filters: 1 loaded.').waitFor();
      assert.equal(await page.getByLabel('Action').inputValue(), 'report.resolve');
      assert.equal(await page.locator('table.op-audit tbody tr').count(), 1);
      await screenshot(page, 'operator-audit');
    }));

  // Installations run thousands of links: the fleet is served 3,000 made-up ones (the API's
  // answer replaced in the browser) to check, with real layout, that only a window of rows is
  // in the DOM, every row has one height (what the window's arithmetic relies on), and
  // scrolling, the keyboard and the search reach every link — as a table and as cards.
  const FLEET = 3000;
  const fakeFleet = () =>
    Array.from({ length: FLEET }, (_, i) => ({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      agent_id: `00000000-0000-4000-9000-${String(i).padStart(12, '0')}`,
      agent_email: `agent${i}@fleet.example`,
      agent_name: `Agent ${String(i).padStart(4, '0')}${i % 3 ? '' : ' Fernández de la Vega'}`,
      agency_id: `00000000-0000-4000-a000-${String(i % 12).padStart(12, '0')}`,
      agency_name: i % 5 ? `Agency ${i % 12}` : `Inmobiliaria Costa del Sol Oriental ${i % 12}`,
      status: ['working', 'working', 'failed', 'scan_qr', 'stopped'][i % 5],
      status_reason: i % 5 === 2 ? 'crash_loop' : null,
      desired_state: 'running',
      phone: i % 4 ? `3460${String(i).padStart(7, '0')}` : null,
      engine: 'NOWEB',
      image: 'puente/waha-emulator:dev',
      container_id: null,
      container_name: `puente-waha-${i}`,
      container_state: i % 5 === 4 ? 'exited' : 'running',
      started_at: null,
      uptime_secs: i % 5 === 4 ? null : i * 37,
      restart_count: i % 3,
      docker_restart_count: 0,
      cpu_percent: i % 5 === 4 ? null : (i % 100) / 7,
      memory_used_bytes: i % 5 === 4 ? null : (40 + (i % 60)) * 1024 * 1024,
      memory_limit_bytes: 128 * 1024 * 1024,
      last_event_at: null,
      created_at: '2026-12-01T09:00:00Z',
    }));

  for (const [layout, viewport] of [
    ['table', { width: 1280, height: 800 }],
    ['cards', { width: 375, height: 740 }],
  ]) {
    test(`a fleet of ${FLEET} links keeps a window of rows in the DOM (${layout})`, (t) =>
      withPage(
        browser,
        t,
        async (page) => {
          const fleet = fakeFleet();
          await page.route('**/api/v1/admin/links?*', (route) => route.fulfill({ json: fleet }));
          await signInOperator(page);
          await page.getByText(`${FLEET} of ${FLEET} links`).waitFor();
          const rows = page.locator('tbody tr[data-link]');
          const view = () =>
            page.evaluate(() => {
              const trs = [...document.querySelectorAll('tbody tr[data-link]')];
              const hs = trs.map((r) => r.getBoundingClientRect().height);
              return { n: trs.length, spread: Math.max(...hs) - Math.min(...hs), last: Number(trs[trs.length - 1]?.getAttribute('aria-rowindex')) };
            });
          assert.equal(await page.locator('table.op-fleet').getAttribute('aria-rowcount'), String(FLEET + 1));
          let v = await view();
          assert.ok(v.n > 3 && v.n < 60, `rows in the DOM: ${v.n}`);
          assert.ok(v.spread <= 1, `rows of one height (spread ${v.spread} px)`);
          await screenshot(page, `operator-fleet-${FLEET}-${layout}`, { fullPage: false });

          // scrolled to the end: the last link is there, still only a window of rows
          await page.locator('.main').evaluate((m) => m.scrollTo(0, m.scrollHeight));
          await page.locator(`tbody tr[aria-rowindex="${FLEET + 1}"]`).waitFor();
          v = await view();
          assert.ok(v.n < 60, `rows in the DOM at the end: ${v.n}`);
          assert.ok(v.spread <= 1, `rows of one height at the end (spread ${v.spread} px)`);
          assert.ok(await page.locator(`tbody tr[aria-rowindex="${FLEET + 1}"]`).isVisible());
          const width = await page.evaluate(() => document.documentElement.scrollWidth);
          assert.ok(width <= viewport.width, `no sideways scrolling (${width})`);

          // the keyboard: Home goes back to the first link, End to the last
          const focusedRow = () => page.evaluate(() => document.activeElement?.closest('tr')?.getAttribute('aria-rowindex'));
          await page.locator(`tbody tr[aria-rowindex="${FLEET + 1}"] a`).focus();
          await page.keyboard.press('Home');
          await waitFor(async () => (await focusedRow()) === '2', { what: 'focus on the first row' });
          await page.keyboard.press('ArrowDown');
          await waitFor(async () => (await focusedRow()) === '3', { what: 'focus on the second row' });
          await page.keyboard.press('End');
          await waitFor(async () => (await focusedRow()) === String(FLEET + 1), { what: 'focus on the last row' });

          // sorting and searching cover every link, not only the rendered ones
          if (layout === 'table') {
            await page.getByRole('columnheader', { name: /Agent/ }).getByRole('button').click();
            await page.getByRole('columnheader', { name: /Agent/ }).getByRole('button').click();
            await page.locator('.main').evaluate((m) => m.scrollTo(0, 0));
            await rows.first().getByText('Agent 2999', { exact: true }).waitFor();
          }
          await page.getByLabel('Search agent or phone').fill('agent1234@');
          await waitFor(async () => (await rows.count()) === 1, { what: 'one row for the search' });
          await rows.first().getByText('agent1234@fleet.example').waitFor();
        },
        { viewport },
      ));
  }

  test('on a phone the fleet turns into cards and the link page still works', (t) =>
    withPage(
      browser,
      t,
      async (page) => {
        await signInOperator(page);
        const row = page.locator(`tr[data-link="${link.id}"]`);
        await row.waitFor();
        const box = await row.boundingBox();
        assert.ok(box && box.width <= 375, `card fits the screen (${box?.width})`);
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= 375, `no sideways scrolling (${width})`);
        await screenshot(page, 'operator-fleet-phone');
        await row.getByRole('link', { name: /Diego Agent/ }).click();
        await page.getByTestId('link-logs').waitFor();
        await screenshot(page, 'operator-link-phone');
      },
      { viewport: { width: 375, height: 740 } },
    ));
});
