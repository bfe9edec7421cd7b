// Patient records in the console, in real browser contexts against the real
// server: a patient locks themselves out of verification in the chat; the
// front desk unlocks them from the console (with a reason) and the patient
// verifies and sees their appointments; a compliance officer finds in the
// audit log who unlocked whom and why, verifies the chain, and exports it
// as FHIR. axe-core checks the unlock form and the compliance page.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { ask, launchBrowser, nthOutboxCode, openConsentedChat, outboxCodes, startServer, tempDataDir } from './harness.mjs';
import { addStaff, assertAccessible, signIn } from './staff.mjs';

describe('patient records in the console', () => {
  let server;
  let browser;
  let desk;
  let compliance;
  before(async () => {
    const dataDir = tempDataDir();
    desk = addStaff(dataDir, 'dana.desk', 'Dana Desk', 'front_desk');
    compliance = addStaff(dataDir, 'cory.compliance', 'Cory Compliance', 'compliance');
    server = await startServer({
      dataDir,
      env: { CARECHAT_MAX_CONSECUTIVE_FAILURES: '1', CARECHAT_RESEND_COOLDOWN_SECS: '1' },
    });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('front desk unlocks a locked-out patient, who verifies again; compliance finds who, whom and why', async () => {
    // The patient gets a code wrong and is locked out (the limit is one here).
    const patientContext = await browser.newContext({ locale: 'en-US' });
    const chat = await openConsentedChat(await patientContext.newPage(), server);
    await ask(chat, 'when is my next appointment', { intent: 'identity.details_needed' });
    await ask(chat, 'Morgan Sample, born 03/02/1984', { intent: 'identity.code_sent' });
    const code = await nthOutboxCode(server, 1);
    const wrong = code === '000000' ? '111111' : '000000';
    await ask(chat, wrong, { intent: 'identity.locked' });
    await patientContext.close();

    // Front desk unlocks them (the context bypasses CSP only for axe).
    const deskContext = await browser.newContext({ locale: 'en-US', bypassCSP: true });
    const deskPage = await deskContext.newPage();
    await signIn(deskPage, server, 'dana.desk', desk);
    await deskPage.locator('form.cn-unlock').waitFor({ timeout: 15000 });
    await assertAccessible(deskPage, 'queue with the unlock form');
    await deskPage.fill('#cn-unlock-family', 'Sample');
    await deskPage.fill('#cn-unlock-birth', '1984-03-02');
    await deskPage.selectOption('#cn-unlock-reason', 'phone_call');
    await deskPage.click('button.cn-unlock-submit');
    const result = deskPage.locator('.cn-unlock-result');
    await result.filter({ hasText: 'Unlocked' }).waitFor({ timeout: 15000 });
    assert.match(await result.innerText(), /Morgan can verify/);
    assert.equal(await deskPage.inputValue('#cn-unlock-family'), '', 'the form forgets the details');
    await assertAccessible(deskPage, 'unlock result');

    // The patient verifies in a new chat and sees their appointments.
    const againContext = await browser.newContext({ locale: 'en-US' });
    const again = await openConsentedChat(await againContext.newPage(), server);
    await ask(again, 'when is my next appointment', { intent: 'identity.details_needed' });
    await ask(again, 'Morgan Sample, born 03/02/1984', { intent: 'identity.code_sent' });
    const fresh = await nthOutboxCode(server, 2);
    assert.equal(outboxCodes(server).length, 2);
    await ask(again, fresh, { intent: 'appointments.list' });
    await againContext.close();

    // Compliance: the unlock in the log, the chain intact, an export.
    const officerContext = await browser.newContext({ locale: 'en-US', bypassCSP: true, acceptDownloads: true });
    const officer = await officerContext.newPage();
    await signIn(officer, server, 'cory.compliance', compliance);
    await officer.locator('form.cn-audit-search').waitFor({ timeout: 15000 });
    await assertAccessible(officer, 'compliance page');
    await officer.fill('#cn-audit-action', 'verification.unlocked');
    await officer.click('button.cn-audit-submit');
    const row = officer.locator('table.cn-audit-table tbody tr[data-action="verification.unlocked.phone_call"]');
    await row.waitFor({ timeout: 15000 });
    const text = await row.innerText();
    assert.match(text, /Dana Desk \(dana\.desk\)/, 'who');
    assert.match(text, /Patient\//, 'whom');
    assert.match(text, /success/);
    assert.equal(await officer.locator('table.cn-audit-table tbody tr').count(), 1);
    await officer.click('button.cn-audit-verify');
    await officer.locator('.cn-verify-result[data-intact="true"]').waitFor({ timeout: 15000 });
    await assertAccessible(officer, 'audit search results and verification');

    const [download] = await Promise.all([
      officer.waitForEvent('download', { timeout: 15000 }),
      officer.click('button.cn-audit-export'),
    ]);
    assert.match(download.suggestedFilename(), /^carechat-audit-.*\.ndjson$/);
    const saved = fs.readFileSync(await download.path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(saved.length, 1);
    assert.equal(saved[0].resourceType, 'AuditEvent');

    // Nothing a patient said reaches the compliance officer's browser.
    const html = await officer.content();
    for (const said of ['when is my next appointment', 'Morgan Sample, born']) {
      assert.ok(!html.includes(said), `"${said}" on the compliance page`);
    }
    await Promise.all([deskContext.close(), officerContext.close()]);
  });
});
