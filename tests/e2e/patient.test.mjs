// A verified patient in a real Chromium against the real server and the
// embedded demo EHR: they confirm who they are with a one-time code (read,
// as their phone would show it, from the development outbox), see their
// appointments, book one from a card with the keyboard, cancel one and ask
// about lab results. A second patient's wrong codes end in a lockout that
// refuses even the right code. Nothing of it reaches the wire in clear or
// the host page.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ask, AXE, axe, launchBrowser, openConsentedChat, recordWire, startServer } from './harness.mjs';

/** The demo EHR's main patient (synthetic). */
const DETAILS = '03/02/1984 Sample';

function outbox(server) {
  const file = path.join(server.dataDir, 'dev-outbox.jsonl');
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

async function nthCode(server, n) {
  for (let i = 0; i < 100; i += 1) {
    const lines = outbox(server);
    if (lines.length >= n) return lines[n - 1].code;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no code #${n} in the development outbox`);
}

/** The newest card of a kind, once it is there. */
async function card(frame, kind, count) {
  const cards = frame.locator(`.cc-card[data-card="${kind}"]`);
  await cards.nth(count - 1).waitFor({ timeout: 15000 });
  return cards.nth(count - 1);
}

/** Presses a card button from the keyboard: focus, then Enter. */
async function press(page, button) {
  await button.focus();
  await page.keyboard.press('Enter');
}

/** Waits for the clinic reply number `n` (1-based) and checks its intent. */
async function reply(frame, n, intent) {
  const line = frame.locator('.cc-msg-clinic').nth(n - 1);
  await line.waitFor({ timeout: 15000 });
  assert.equal(await line.getAttribute('data-intent'), intent, await line.innerText());
  return (await line.innerText()).trim();
}

describe('verified patients', () => {
  let server;
  let browser;
  before(async () => {
    server = await startServer({
      env: { CARECHAT_MAX_CONSECUTIVE_FAILURES: '5', CARECHAT_RESEND_COOLDOWN_SECS: '1' },
    });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('a demo patient verifies, sees appointments, books, cancels and checks lab status', async () => {
    const page = await browser.newPage();
    const wire = recordWire(page);
    const frame = await openConsentedChat(page, server);

    await ask(frame, 'When is my next appointment?', { intent: 'identity.details_needed' });
    const sent = await ask(frame, DETAILS, { intent: 'identity.code_sent' });
    // Nothing of the phone number: a stranger's details read the same.
    assert.match(sent, /phone number on file\./);
    assert.doesNotMatch(sent, /ending in/);
    const code = await nthCode(server, 1);
    const listed = await ask(frame, code, { intent: 'appointments.list' });
    assert.match(listed, /verified/);
    const appointments = await card(frame, 'appointments', 1);
    assert.equal(await appointments.locator('.cc-card-item').count(), 2);

    // Booking: three real free slots on next Tuesday afternoon, picked and
    // confirmed from the keyboard.
    await ask(frame, 'I need a checkup with Dr. Patel next Tuesday afternoon', { intent: 'appointments.book' });
    const slots = await card(frame, 'slots', 1);
    const offered = await slots.locator('.cc-card-item').count();
    assert.ok(offered >= 1 && offered <= 3, `${offered} slots offered`);
    for (const when of await slots.locator('.cc-card-when').allInnerTexts()) {
      assert.match(when, /^Tue, .* PM$/);
    }
    let replies = await frame.locator('.cc-msg-clinic').count();
    await press(page, slots.locator('button.cc-card-action', { hasText: 'Choose' }).first());
    await reply(frame, replies + 1, 'appointments.confirm');
    const confirm = await card(frame, 'confirm', 1);
    // The pressed button disabled itself; focus moved to the new card's
    // first button, so Enter confirms.
    await frame.waitForFunction(() => document.activeElement?.textContent === 'Yes, book it');
    await page.keyboard.press('Enter');
    await reply(frame, replies + 2, 'appointments.booked');
    const booked = await card(frame, 'booked', 1);
    // A card without buttons hands focus back to the message box.
    await frame.waitForFunction(() => document.activeElement?.classList.contains('cc-input'));
    assert.match(await booked.innerText(), /Patel/);
    // A card's buttons work once.
    assert.ok(await confirm.locator('button.cc-card-action').first().isDisabled());

    await ask(frame, 'show my appointments', { intent: 'appointments.list' });
    assert.equal(await (await card(frame, 'appointments', 2)).locator('.cc-card-item').count(), 3);

    // Cancelling, with confirmation.
    await ask(frame, 'I want to cancel my appointment', { intent: 'appointments.cancel' });
    const choices = await card(frame, 'appointments', 3);
    replies = await frame.locator('.cc-msg-clinic').count();
    await choices.locator('button.cc-card-action').first().click();
    await reply(frame, replies + 1, 'appointments.confirm');
    await (await card(frame, 'confirm', 2)).locator('button.cc-card-action', { hasText: 'Yes, cancel it' }).click();
    await reply(frame, replies + 2, 'appointments.cancelled');

    // Lab status, never a value.
    const labs = await ask(frame, 'are my lab results back?', { intent: 'labs.status' });
    assert.match(labs, /contact the office/);
    assert.match(labs, /pending/);

    // None of it crossed the wire readable, or reached the host page.
    await wire.settle();
    for (const secret of [DETAILS, '1984', code, 'Patel', 'Sample', 'Lipid']) {
      assert.deepEqual(wire.find(secret), [], `${secret} appeared on the wire`);
    }
    const hostHtml = await page.content();
    for (const secret of [DETAILS, code, 'Morgan', 'Tue, ']) {
      assert.ok(!hostHtml.includes(secret), `${secret} reached the host page`);
    }
    await page.close();
  });

  test('appointment and slot cards pass axe-core WCAG 2.1 AA checks', async () => {
    // As in embed.test.mjs: axe is injected, so this context bypasses CSP.
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    const frame = await openConsentedChat(page, server);
    const before = outbox(server).length;
    await ask(frame, 'my appointments', { intent: 'identity.details_needed' });
    await ask(frame, DETAILS, { intent: 'identity.code_sent' });
    await ask(frame, await nthCode(server, before + 1), { intent: 'appointments.list' });
    await ask(frame, "I'd like a checkup next week", { intent: 'appointments.book' });
    await card(frame, 'slots', 1);
    await frame.addScriptTag({ path: AXE });
    assert.deepEqual(await axe(frame), []);
    await context.close();
  });

  test('wrong codes end in lockout, and after it even the right code is refused', async () => {
    const page = await browser.newPage();
    const frame = await openConsentedChat(page, server);
    const before = outbox(server).length;
    await ask(frame, 'are my lab results ready', { intent: 'identity.details_needed' });
    await ask(frame, DETAILS, { intent: 'identity.code_sent' });
    const code = await nthCode(server, before + 1);
    const wrong = code === '000000' ? '111111' : '000000';
    for (let i = 0; i < 4; i += 1) {
      await ask(frame, wrong, { intent: 'identity.code_wrong' });
    }
    const locked = await ask(frame, wrong, { intent: 'identity.locked' });
    assert.match(locked, /\(555\) 010-4477/);
    await ask(frame, code, { intent: 'identity.locked' });
    // A new request for a code is refused too, and none is sent.
    await ask(frame, 'new code', { intent: 'identity.locked' });
    assert.equal(outbox(server).length, before + 1);
    await page.close();
  });
});
