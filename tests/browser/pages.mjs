// The main stories of tally's pages in headless Chromium (Debian's), driven by playwright-core.
//
// Run by tests/it/pages_browser.rs, which starts a whole appliance, seeds people and tokens, and passes:
//   TALLY_BASE         http://127.0.0.1:PORT
//   TALLY_TOKENS       JSON {guard, guard2, supervisor, enroller, auditor}
//   TALLY_FILES        a folder with blank.png, duplicate.png, good.png; the export is saved there
//   TALLY_SCREENSHOTS  where screenshots go
//   CHROMIUM           the browser (default /usr/bin/chromium)
// When the appliance must act (a finger on a reader, a person through a turnstile), this script prints
// `DO <action>` and waits for a line on stdin. Each story prints `STEP <name>`; the last line is `PASS`.

import { chromium } from 'playwright-core';
import readline from 'node:readline';
import path from 'node:path';
import assert from 'node:assert/strict';

const base = process.env.TALLY_BASE;
const tokens = JSON.parse(process.env.TALLY_TOKENS);
const files = process.env.TALLY_FILES;
const shots = process.env.TALLY_SCREENSHOTS;
const WAIT = { timeout: 20000 };

// A hung browser or appliance must not hang the test run.
setTimeout(() => {
  console.error('the browser stories took longer than 5 minutes');
  process.exit(2);
}, 300000).unref();

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

/** Asks the Rust side to act, and waits until it has. */
async function ask(action) {
  console.log(`DO ${action}`);
  const { value, done } = await lines.next();
  assert.ok(!done && value.trim() === 'done', `the appliance did not do "${action}": ${value}`);
}

const step = (name) => console.log(`STEP ${name}`);

async function shot(page, name, opts = {}) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true, ...opts });
}

async function signIn(browser, token, where, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport, locale: 'en-GB', acceptDownloads: true });
  const page = await context.newPage();
  page.on('pageerror', (e) => {
    console.error(`page error: ${e.message}`);
    process.exitCode = 1;
  });
  page.on('console', (m) => {
    // Refusals the stories provoke (403, 409, 422…) are logged by the browser as failed loads: not errors.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) console.error(`console: ${m.text()}`);
    if (/Content Security Policy/.test(m.text())) {
      console.error('the page broke its own Content-Security-Policy');
      process.exitCode = 1;
    }
  });
  await page.goto(base + where);
  await page.fill('#token', token);
  await page.click('form.login button[type=submit]');
  await page.waitForSelector('form.login', { state: 'detached', ...WAIT });
  return page;
}

const text = (page, sel) => page.locator(sel).innerText(WAIT);
const waitText = (page, sel, wanted) => page.locator(sel).filter({ hasText: wanted }).first().waitFor(WAIT);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  step('login');
  {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });
    const page = await context.newPage();
    const res = await page.goto(base + '/');
    assert.match(res.headers()['content-security-policy'], /default-src 'self'/);
    await page.fill('#token', 'tly_not_a_token');
    await page.click('form.login button[type=submit]');
    await waitText(page, '.login .notice', 'not valid');
    await shot(page, 'login');
    await context.close();
  }

  step('a scan appears on the gate screen');
  const gate = await signIn(browser, tokens.guard, '/gate/gate-in');
  await waitText(gate, '.live', 'Live');
  await waitText(gate, '.lane-state', 'online');
  assert.equal(await text(gate, '.gate-head .zones'), 'Outside → Reception', 'zones by name');
  await ask('scan P-1');
  await waitText(gate, '#latest.grant .name', 'MBUYI Jean');
  assert.match(await text(gate, '#latest .decision'), /✓\s*GRANTED/);
  assert.match(await text(gate, '#latest .who'), /P-1/);
  assert.match(await text(gate, '#latest .who'), /inmate/);
  await waitText(gate, '#latest .passage', 'Passed through');
  await gate.locator('#latest .photo img').waitFor(WAIT);
  await shot(gate, 'gate-granted');

  step('a refusal shows the cross and the reason');
  await ask('refuse P-1');
  await waitText(gate, '#latest.deny .decision', 'REFUSED');
  assert.match(await text(gate, '#latest .decision'), /✗/);
  assert.match(await text(gate, '#latest .reason'), /anti-passback/);
  await waitText(gate, '#recent li.grant', 'MBUYI Jean');
  await shot(gate, 'gate-refused');

  step('an override needs a second officer');
  await gate.click('#override-open');
  await gate.fill('#override-q', 'Kabongo');
  await gate.press('#override-q', 'Enter');
  await gate.locator('#override-results .choice', { hasText: 'P-2' }).click(WAIT);
  await waitText(gate, '#override-chosen .name', 'KABONGO Jean');
  await gate.fill('#override-reason', 'Bandaged finger after a cut');
  await gate.click('#override-submit');
  await waitText(gate, '#override-msg.bad', 'second officer');
  await gate.fill('#override-second', tokens.guard);
  await gate.click('#override-submit');
  await waitText(gate, '#override-msg.bad', 'not yours');
  await shot(gate, 'override-refused');
  await gate.fill('#override-second', tokens.guard2);
  await gate.click('#override-submit');
  await waitText(gate, '#override-msg.good', 'confirmed by guard.2');
  await ask('pass gate-in');
  await gate.click('#override-close');
  await waitText(gate, '#latest.grant .name', 'KABONGO Jean');
  await waitText(gate, '#latest .method', 'Override by guard.1 and guard.2');
  await waitText(gate, '#latest .passage', 'Passed through');
  await shot(gate, 'gate-override');

  step('the gate screen in French');
  await gate.selectOption('#lang', 'fr');
  await waitText(gate, '#latest .decision', 'AUTORISÉ');
  await waitText(gate, '#latest .method', 'Dérogation par guard.1 et guard.2');
  await waitText(gate, '#recent li.deny', 'REFUSÉ');
  await waitText(gate, '#recent li.deny', 'Déjà de ce côté (anti-retour)');
  assert.equal(await gate.getAttribute('html', 'lang'), 'fr');
  await waitText(gate, '.lane-state', 'Tourniquet');
  await waitText(gate, '.live', 'En direct');
  await shot(gate, 'gate-fr');
  await gate.selectOption('#lang', 'en');
  await waitText(gate, '.live', 'Live');

  step('a guard taking over the lane sees its recent scans, from the ledger');
  {
    const small = await signIn(browser, tokens.guard2, '/gate/gate-in', { width: 390, height: 844 });
    await waitText(small, '.live', 'Live');
    await waitText(small, '#latest .decision', 'GRANTED');
    await waitText(small, '#latest .method', 'Override by guard.1 and guard.2');
    await waitText(small, '#recent li.deny', 'anti-passback');
    await waitText(small, '#recent li.grant', 'MBUYI Jean');
    await shot(small, 'gate-small');
    await small.context().close();
  }
  await gate.context().close();

  step('a roll-call finds the missing person');
  const sup = await signIn(browser, tokens.supervisor, '/rollcall');
  await sup.check('#zone-reception');
  await sup.click('#rollcall-start button[type=submit]');
  await sup.waitForURL(/\/rollcall\/rc-1$/, WAIT);
  await waitText(sup, '#counted', '0 of 2 counted');
  await sup.fill('#count-person', 'P-1');
  await sup.selectOption('#count-zone', 'reception');
  await sup.click('#count-form button[type=submit]');
  await waitText(sup, '#counted', '1 of 2 counted');
  await waitText(sup, '#missing', 'KABONGO Jean');
  assert.match(await text(sup, '#missing'), /P-2\s+KABONGO Jean\s+Reception/);
  assert.doesNotMatch(await text(sup, '#missing'), /MBUYI/);
  assert.match(await text(sup, '#balance'), /✗/);
  await shot(sup, 'rollcall-missing');
  await sup.check('#close-sign');
  await sup.click('#close');
  await waitText(sup, '#rollcall-msg.bad', 'remark');
  await sup.fill('#close-remark', 'P-2 taken to the infirmary before the count; seen there by the duty nurse.');
  await sup.click('#close');
  await waitText(sup, '#progress', 'CLOSED');
  await waitText(sup, '#progress', 'Closed by sup.1');
  await sup.evaluate(() => {
    window.print = () => {
      window.printed = true;
    };
  });
  await sup.click('#print');
  await waitText(sup, '#sheet', 'count sheet');
  assert.equal(await sup.evaluate(() => window.printed), true);
  await shot(sup, 'rollcall-closed');
  await sup.emulateMedia({ media: 'print' });
  await shot(sup, 'rollcall-sheet-print');
  await sup.emulateMedia({ media: 'screen' });

  step('a supervisor changes a status');
  await sup.goto(base + '/people/P-3');
  await sup.selectOption('#status-new', 'at_court');
  await sup.fill('#status-reason', 'Hearing at the high court');
  await sup.click('#status-form button[type=submit]');
  await waitText(sup, '#status-msg.good', 'at court');

  step('the headcount board');
  await sup.goto(base + '/headcount');
  await waitText(sup, '#inside', '2');
  await waitText(sup, '#zones tr', 'Reception');
  assert.match(await text(sup, '#zones'), /Reception\s+2\s+0\s+0\s+2/);
  await sup.locator('#chart svg path.count').waitFor(WAIT);
  await waitText(sup, '#away', 'at court');
  await waitText(sup, '#away', 'Hearing at the high court');
  await sup.click('#zones button:has-text("Reception")');
  await waitText(sup, '#occupants', 'MBUYI Jean');
  await shot(sup, 'headcount');
  await sup.setViewportSize({ width: 390, height: 844 });
  await shot(sup, 'headcount-small');
  await sup.context().close();

  step('people and enrolment');
  const enr = await signIn(browser, tokens.enroller, '/people');
  assert.equal(await enr.locator('nav a[href="/gate"]').count(), 0, 'enrolment officers have no gate screen');
  await enr.fill('#people-q', 'Mbuyi');
  await enr.click('form[role=search] button[type=submit]');
  await waitText(enr, '#people-results tr', 'P-1');
  await shot(enr, 'people-search');
  await enr.goto(base + '/people/P-4');
  await waitText(enr, '#person-name', 'TSHIALA Marie');
  await enr.fill('#edit-given_names', 'Marie-Claire');
  await enr.click('#identity-submit');
  await waitText(enr, '#identity-msg.good', 'Identity saved');
  await waitText(enr, '#person-name', 'TSHIALA Marie-Claire');
  assert.equal(await enr.locator('#status-form').count(), 0, 'enrolment officers do not change statuses');
  await enr.selectOption('#enrol-finger', '2');
  await enr.setInputFiles('#enrol-file', path.join(files, 'blank.png'));
  await enr.click('#enrol-submit');
  await waitText(enr, '#enrol-msg.bad', 'ask for the finger again');
  await shot(enr, 'enrol-poor');
  await enr.setInputFiles('#enrol-file', path.join(files, 'duplicate.png'));
  await enr.click('#enrol-submit');
  await waitText(enr, '#enrol-msg.warn', 'Possible duplicate');
  await waitText(enr, '#candidates', 'MBUYI Jean');
  await enr.locator('#candidates .photo img').first().waitFor(WAIT);
  await shot(enr, 'enrol-duplicate');
  await enr.setInputFiles('#enrol-file', path.join(files, 'good.png'));
  await enr.click('#enrol-submit');
  await waitText(enr, '#enrol-msg.good', 'Right index enrolled: quality');
  await waitText(enr, '#fingers', 'Right index');
  await shot(enr, 'enrol-ok');
  await enr.context().close();

  step('the ledger for auditors');
  const aud = await signIn(browser, tokens.auditor, '/ledger');
  assert.equal(await aud.locator('nav a[href="/gate"]').count(), 0, 'auditors have no gate screen');
  assert.equal(await aud.locator('nav a[href="/people"]').count(), 0, 'auditors do not read the register');
  await aud.locator('#ledger-size').waitFor(WAIT);
  assert.ok(Number(await text(aud, '#ledger-size')) > 10);
  await aud.selectOption('#filter-kind', 'grant');
  await aud.fill('#filter-from', '0');
  await aud.click('#filters button[type=submit]');
  await waitText(aud, '#entries-range', /: 2 shown/);
  const kinds = await aud.locator('#entries tr td:nth-child(3)').allInnerTexts();
  assert.deepEqual(kinds, ['grant', 'grant']);
  const [download] = await Promise.all([aud.waitForEvent('download', WAIT), aud.click('#export')]);
  assert.match(download.suggestedFilename(), /^ledger-makala-gate-1-\d+\.tar$/);
  await download.saveAs(path.join(files, 'export.tar'));
  await shot(aud, 'ledger');
  await aud.goto(base + '/gate/gate-in');
  await waitText(aud, 'main .notice', 'may not see this page');
  await aud.context().close();

  console.log('PASS');
} finally {
  await browser.close();
}
process.exit(process.exitCode || 0);
