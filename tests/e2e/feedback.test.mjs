// Feedback on the assistant's replies, in two browser contexts against the
// real server: a patient asks a question, presses thumbs down under the
// reply and picks a reason (by keyboard), and is thanked; a compliance
// officer signs in to the console (password and a TOTP code computed from
// the account's secret) and sees the vote counted for that reply's intent,
// and axe-core finds no WCAG A/AA violation on the page with the feedback
// table or in the widget with the thumbs and reasons open. The vote never
// crosses the patient's socket in plaintext.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AXE, ROOT, ask, axe, launchBrowser, openConsentedChat, recordWire, startServer, tempDataDir } from './harness.mjs';

const BIN = process.env.CARECHAT_BIN ?? path.join(ROOT, 'target', 'debug', 'carechat');
const PASSWORD = 'correct horse battery staple';

/** Creates a staff account with the real CLI; returns its TOTP secret. */
function addStaff(dataDir, username, name, role) {
  const out = execFileSync(BIN, ['staff', 'add', '--username', username, '--name', name, '--role', role], {
    env: { ...process.env, CARECHAT_DATA_DIR: dataDir, CARECHAT_STAFF_PASSWORD: PASSWORD },
    encoding: 'utf8',
  });
  const secret = /secret:\s*([A-Z2-7]+)/.exec(out)?.[1];
  assert.ok(secret, `no TOTP secret printed: ${out}`);
  return secret;
}

function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** RFC 6238: the 6-digit code for `secret` now. */
function totp(secret, step = Math.floor(Date.now() / 1000 / 30)) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = crypto.createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}

describe('feedback on replies', () => {
  let server;
  let browser;
  let secret;
  before(async () => {
    const dataDir = tempDataDir();
    secret = addStaff(dataDir, 'casey.lee', 'Casey Lee', 'compliance');
    server = await startServer({ dataDir });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('a thumbs down with a reason is counted for its intent in the compliance console', async () => {
    // Bypassing CSP only so axe's script can be injected.
    const patientContext = await browser.newContext({ locale: 'en-US', bypassCSP: true });
    const patient = await patientContext.newPage();
    const wire = recordWire(patient);
    const chat = await openConsentedChat(patient, server);
    await ask(chat, 'where do I park', { intent: 'faq.parking' });
    const reply = chat.locator('.cc-msg-clinic[data-intent="faq.parking"]').last();
    const up = reply.locator('.cc-feedback button.cc-vote[data-vote="up"]');
    const down = reply.locator('.cc-feedback button.cc-vote[data-vote="down"]');
    assert.equal(await up.getAttribute('aria-label'), 'Helpful');
    assert.equal(await down.getAttribute('aria-label'), 'Not helpful');
    assert.equal(await down.getAttribute('aria-pressed'), 'false');
    assert.equal(await reply.locator('.cc-why').isVisible(), false, 'reasons only after a thumbs down');

    await down.click();
    assert.equal(await down.getAttribute('aria-pressed'), 'true');
    assert.equal(await up.getAttribute('aria-pressed'), 'false');
    const thanks = reply.locator('.cc-feedback-thanks[role="status"]');
    await thanks.filter({ hasText: 'Thanks for your feedback' }).waitFor({ timeout: 5000 });
    const reason = reply.locator('button.cc-reason[data-reason="hard_to_understand"]');
    await reason.waitFor({ state: 'visible', timeout: 5000 });
    assert.equal(await reply.locator('.cc-why').getAttribute('aria-label'), 'What was wrong? (optional)');
    // By keyboard: Tab from the thumbs down reaches the first reason.
    await down.focus();
    await patient.keyboard.press('Tab');
    assert.equal(await chat.evaluate(() => document.activeElement?.dataset.reason), 'not_what_i_asked');
    await reason.focus();
    await patient.keyboard.press('Enter');
    assert.equal(await reason.getAttribute('aria-pressed'), 'true');
    assert.equal(await down.getAttribute('aria-pressed'), 'true', 'a reason keeps the thumbs down');

    // Crisis guidance gets no thumbs.
    await chat.fill('.cc-input', 'i want to kill myself');
    await chat.click('button.cc-send');
    const guidance = chat.locator('.cc-msg-escalated[data-intent="safety.crisis"]');
    await guidance.waitFor({ timeout: 15000 });
    assert.equal(await guidance.locator('.cc-feedback').count(), 0);

    await chat.addScriptTag({ path: AXE });
    assert.deepEqual(await axe(chat), [], 'the widget with the thumbs and reasons open');

    await wire.settle();
    // (The widget's own files name these words; the frames must not.)
    assert.ok(wire.frames.some((f) => f.dir === 'sent'), 'frames were recorded');
    for (const text of ['hard_to_understand', 'feedback', 'faq.parking']) {
      assert.deepEqual(wire.find(text).filter((r) => r.dir), [], `${text} in plaintext on the socket`);
    }

    // The compliance officer sees the count.
    const officerContext = await browser.newContext({ locale: 'en-US', bypassCSP: true });
    const officer = await officerContext.newPage();
    await officer.goto(`${server.chatOrigin}/console/`);
    await officer.fill('#cn-username', 'casey.lee');
    await officer.fill('#cn-password', PASSWORD);
    await officer.fill('#cn-code', totp(secret));
    await officer.click('button.cn-sign-in-submit');
    await officer.locator('.cn-feedback').waitFor({ timeout: 15000 });
    const row = officer.locator('table.cn-feedback-table tr[data-intent="faq.parking"]');
    for (let tries = 0; (await row.count()) === 0 && tries < 20; tries++) {
      await officer.waitForTimeout(250);
      if (await officer.locator('button.cn-feedback-refresh:not([disabled])').count()) {
        await officer.click('button.cn-feedback-refresh');
      }
    }
    await row.waitFor({ timeout: 5000 });
    const cells = await row.locator('th, td').allInnerTexts();
    // Intent, helpful, not helpful, not what I asked, hard to understand,
    // wrong or out of date, other.
    assert.deepEqual(cells.map((c) => c.trim()), ['faq.parking', '0', '1', '0', '1', '0', '0']);
    const headers = await officer.locator('table.cn-feedback-table thead th[scope="col"]').allInnerTexts();
    assert.equal(headers.length, 7);
    // No message text reaches the page: neither the question nor the reply.
    assert.doesNotMatch(await officer.locator('body').innerText(), /where do I park/i);

    await officer.addScriptTag({ path: AXE });
    const found = await officer.evaluate(async () => {
      // eslint-disable-next-line no-undef
      const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } });
      return r.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
    });
    assert.deepEqual(found, [], `compliance page with the feedback table: ${found.join('; ')}`);
    await Promise.all([patientContext.close(), officerContext.close()]);
  });
});
