// A patient asks for a person and a nurse from the clinic takes over, in two
// browser contexts against the real server: the nurse signs in to the
// console (password and a TOTP code computed from the account's secret),
// sees the chat in the queue, reads what was said, picks it up, and they
// write to each other with typing shown both ways. While the nurse owns the
// chat the assistant stays quiet; handed back, it answers again. A second
// patient's crisis tops the queue, marked, within a second. The patient's
// recorded frames never carry a staff message in plaintext.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ask, launchBrowser, openConsentedChat, recordWire, startServer, tempDataDir } from './harness.mjs';
import { addStaff, assertAccessible, signIn } from './staff.mjs';

describe('handoff to a person', () => {
  let server;
  let browser;
  let secret;
  before(async () => {
    const dataDir = tempDataDir();
    secret = addStaff(dataDir, 'sam.rivera', 'Sam Rivera', 'nurse');
    server = await startServer({ dataDir });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('a nurse picks up a chat, they talk both ways, and the bot is quiet until it is handed back', async () => {
    const patientContext = await browser.newContext({ locale: 'en-US' });
    const patient = await patientContext.newPage();
    const wire = recordWire(patient);
    const chat = await openConsentedChat(patient, server);
    await ask(chat, 'what time do you open on saturday');
    await ask(chat, 'can I talk to a real person please', { intent: 'handoff.person' });

    const nurseContext = await browser.newContext({ locale: 'en-US' });
    const nurse = await nurseContext.newPage();
    await signIn(nurse, server, 'sam.rivera', secret);
    const entry = nurse.locator('li.cn-entry').first();
    await entry.waitFor({ timeout: 15000 });
    assert.equal(await entry.getAttribute('data-reason'), 'asked_for_person');
    await entry.locator('button.cn-open').click();
    await nurse.locator('.cn-conversation li.cn-line[data-speaker="patient"]', { hasText: 'saturday' }).waitFor({ timeout: 15000 });
    assert.ok((await nurse.locator('.cn-conversation li.cn-line[data-speaker="assistant"]').count()) >= 1, 'the bot\'s answers are shown too');

    await nurse.click('button.cn-pick-up');
    await chat.locator('.cc-notice-status', { hasText: 'Sam Rivera' }).waitFor({ timeout: 15000 });

    const fromNurse = 'Hi, I am Sam, a nurse here. How can I help you today?';
    await nurse.fill('.cn-composer textarea.cn-input', fromNurse);
    await nurse.click('button.cn-send');
    const staffBubble = chat.locator('.cc-msg-staff', { hasText: 'How can I help you today' });
    await staffBubble.waitFor({ timeout: 15000 });
    assert.match(await staffBubble.innerText(), /Sam Rivera/);
    assert.match(await staffBubble.innerText(), /Nurse/);

    // The patient writes: the nurse sees typing, then the words; the bot says nothing.
    const clinicBefore = await chat.locator('.cc-msg-clinic').count();
    // Typing is sent at most once every 3 seconds; let the last one age.
    await patient.waitForTimeout(3200);
    await chat.type('.cc-input', 'what are your hours', { delay: 30 });
    await nurse.locator('.cn-typing', { hasText: /typing/i }).waitFor({ timeout: 15000 });
    await chat.click('button.cc-send');
    await nurse.locator('.cn-conversation li.cn-line[data-speaker="patient"]', { hasText: 'what are your hours' }).waitFor({ timeout: 15000 });
    await patient.waitForTimeout(1500);
    assert.equal(await chat.locator('.cc-msg-clinic').count(), clinicBefore, 'the bot answered while a person owned the chat');

    // The nurse types: the patient sees it.
    await nurse.waitForTimeout(3200);
    await nurse.type('.cn-composer textarea.cn-input', 'We open at 8', { delay: 30 });
    await chat.locator('.cc-typing', { hasText: /Sam Rivera/ }).waitFor({ timeout: 15000 });
    await nurse.click('button.cn-send');
    await chat.locator('.cc-msg-staff', { hasText: 'We open at 8' }).waitFor({ timeout: 15000 });

    // Handed back: the bot answers again.
    await nurse.click('button.cn-hand-back');
    await chat.locator('.cc-notice', { hasText: /handed the chat back/ }).waitFor({ timeout: 15000 });
    await ask(chat, 'where do I park', { intent: 'faq.parking' });

    // Nothing the nurse wrote crossed the patient's socket in plaintext.
    await wire.settle();
    assert.ok(wire.frames.length > 0, 'frames were recorded');
    for (const text of [fromNurse, 'We open at 8', 'Sam Rivera']) {
      assert.deepEqual(wire.find(text).filter((r) => r.kind !== 'url'), [], `"${text}" in plaintext on the wire`);
    }

    // A second patient's crisis goes to the top of the queue, marked, within a second.
    const otherContext = await browser.newContext({ locale: 'en-US' });
    const other = await otherContext.newPage();
    const otherChat = await openConsentedChat(other, server);
    await otherChat.fill('.cc-input', 'i took all of my sleeping pills an hour ago');
    await otherChat.click('button.cc-send');
    await otherChat.locator('.cc-msg-escalated').waitFor({ timeout: 15000 });
    const started = Date.now();
    const top = nurse.locator('li.cn-entry').first();
    await nurse.waitForFunction(
      () => document.querySelector('li.cn-entry')?.getAttribute('data-reason') === 'crisis',
      null,
      { timeout: 1000 },
    );
    assert.ok(Date.now() - started <= 1000);
    assert.match(await top.innerText(), /crisis/i);
    await Promise.all([patientContext.close(), nurseContext.close(), otherContext.close()]);
  });

  test('axe-core finds no WCAG 2.2 A/AA violation on the console: sign-in, queue, conversation', async () => {
    const patientContext = await browser.newContext({ locale: 'en-US' });
    const chat = await openConsentedChat(await patientContext.newPage(), server);
    await ask(chat, 'i need to talk to someone at the front desk', { intent: 'handoff.person' });
    // Bypassing the console's CSP only so axe's script can be injected.
    const nurseContext = await browser.newContext({ locale: 'en-US', bypassCSP: true });
    const nurse = await nurseContext.newPage();
    const check = (screen) => assertAccessible(nurse, screen);
    await nurse.goto(`${server.chatOrigin}/console/`);
    await nurse.locator('#cn-username').waitFor({ timeout: 15000 });
    await check('sign-in');
    // A new code step: each TOTP code signs in once.
    await nurse.waitForTimeout(Math.max(0, 30_500 - (Date.now() % 30_000)));
    await signIn(nurse, server, 'sam.rivera', secret);
    await nurse.locator('li.cn-entry').first().waitFor({ timeout: 15000 });
    await check('queue');
    await nurse.locator('li.cn-entry button.cn-open').first().click();
    await nurse.locator('.cn-conversation li.cn-line').first().waitFor({ timeout: 15000 });
    await check('conversation');
    await Promise.all([patientContext.close(), nurseContext.close()]);
  });
});
