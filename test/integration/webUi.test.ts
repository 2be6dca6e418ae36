import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { generateLegacyDb } from '../../src/fixtures/legacyFixture';
import { launchChromium } from '../support/chromium';
import { startHarness, type SyncHarness } from '../support/syncHarness';

/**
 * The operator's view (docs/runbook.md, "Watching"): the real Temporal Web UI of the tests'
 * stack, in headless Chromium, finds a table's sync run through the SyncTable search
 * attribute and opens it. Screenshots go to test-artifacts/ (not part of the repository).
 */

const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts');
const VISIBILITY_WAIT_MS = 30_000;

/**
 * Opens `url` until `target` shows: the list comes from Temporal's visibility store, which
 * lags the workflow by a moment, so the page is loaded again until it appears.
 */
async function openUntilVisible(page: Page, url: string, target: Locator, what: string): Promise<void> {
  const deadline = Date.now() + VISIBILITY_WAIT_MS;
  for (;;) {
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    try {
      await target.waitFor({ state: 'visible', timeout: 8_000 });
      return;
    } catch {
      if (Date.now() > deadline) {
        const shown = (await page.locator('body').innerText().catch(() => '')).replace(/\s+/g, ' ').slice(0, 1500);
        await page.screenshot({ path: path.join(ARTIFACTS, 'webui-failure.png'), fullPage: true }).catch(() => {});
        throw new Error(`${what} did not show at ${url} within ${VISIBILITY_WAIT_MS / 1000} s; the page shows: ${shown}`);
      }
    }
  }
}

describe('the Temporal Web UI', () => {
  let h: SyncHarness;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    h = await startHarness();
    generateLegacyDb({ path: h.legacyPath, seed: 11, clients: 40, drivers: 4, deliveries: 300 });
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('lists the deliveries run of a sync cycle under SyncTable="deliveries", and opens it', async () => {
    const ui = process.env.TEST_TEMPORAL_UI_URL;
    if (!ui) throw new Error('TEST_TEMPORAL_UI_URL is empty: the tests use a Temporal server of their own (no Web UI started by the stack)');

    const summary = await h.runCycle();
    const runId = `table-sync/deliveries/legacy-to-new/${summary.cycleId}`;
    expect(summary.tables.find((t) => t.table === 'deliveries' && t.direction === 'legacy-to-new')).toMatchObject({ runId, status: 'completed', written: 300 });

    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    // The list page takes a visibility query in its URL (Web UI 2.x: ?query=…) and shows it as a filter.
    const listUrl = `${ui}/namespaces/default/workflows?query=${encodeURIComponent('SyncTable="deliveries"')}`;
    const link = page.getByRole('link', { name: runId, exact: true });
    await openUntilVisible(page, listUrl, link, `workflow ${runId}`);
    await expect(page.getByText('SyncTable = "deliveries"').first().isVisible()).resolves.toBe(true);
    // Filtered by table: this cycle's other tables are not listed.
    for (const other of ['clients', 'drivers']) {
      await expect(page.getByRole('link', { name: `table-sync/${other}/legacy-to-new/${summary.cycleId}`, exact: true }).count()).resolves.toBe(0);
    }
    const ids = await page.getByRole('link', { name: /^table-sync\// }).allInnerTexts();
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect(id).toMatch(/^table-sync\/deliveries\//);
    await page.screenshot({ path: path.join(ARTIFACTS, 'webui-deliveries-list.png') });

    await link.click();
    await page.waitForURL((u) => u.pathname.includes(`/workflows/${encodeURIComponent(runId)}/`), { timeout: 30_000 });
    const type = page.getByText('TableSyncWorkflow', { exact: true }).first();
    await type.waitFor({ state: 'visible', timeout: 30_000 });
    const shown = (await page.locator('main').innerText()).replace(/\s+/g, ' ');
    expect(shown).toContain(runId);
    expect(shown).toMatch(/Workflow Type TableSyncWorkflow/);
    expect(shown).toMatch(/COMPLETED/);
    expect(shown).toContain(`Task Queue ${h.env.TEMPORAL_TASK_QUEUE}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'webui-deliveries-run.png') });
    await page.close();
  }, 150_000);
});
