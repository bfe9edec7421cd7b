// The admin's console pages, in real browsers against the real server: an
// admin (made with `carechat staff add`) signs in, adds a front-desk
// account and reads its TOTP secret off the page (shown once), sets the
// staffed hours, and adds a canned response in English and Spanish. The new
// front-desk user signs in with the initial password and a code computed
// from that secret, picks up a Spanish-speaking patient's chat, inserts the
// canned response (in Spanish, the chat's language), edits it and sends it;
// the patient reads it. axe-core finds no WCAG 2.2 A/AA violation on each
// admin screen.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ask, launchBrowser, openConsentedChat, startServer, tempDataDir } from './harness.mjs';
import { PASSWORD, addStaff, assertAccessible, signIn } from './staff.mjs';

const SPANISH = { locale: 'es-ES', extraHTTPHeaders: { 'Accept-Language': 'es-ES,es;q=0.9' } };
const CANNED_EN = 'Thank you for waiting. I am checking this for you now.';
const CANNED_ES = 'Gracias por esperar. Lo estoy revisando ahora mismo.';

describe('administration', () => {
  let server;
  let browser;
  let adminSecret;
  before(async () => {
    const dataDir = tempDataDir();
    adminSecret = addStaff(dataDir, 'ada.admin', 'Ada Admin', 'admin');
    server = await startServer({ dataDir });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('an admin adds a front-desk account, sets hours and a canned response the new account uses in a chat', async () => {
    // axe is injected into the page, which the console's CSP would refuse.
    const adminContext = await browser.newContext({ locale: 'en-US', bypassCSP: true });
    const admin = await adminContext.newPage();
    await signIn(admin, server, 'ada.admin', adminSecret);
    await admin.locator('.cn-shell[data-view="admin"]').waitFor({ timeout: 15000 });
    await admin.locator('tr.cn-staff-row[data-username="ada.admin"]').waitFor({ timeout: 15000 });
    assert.equal(await admin.locator('tr.cn-staff-row[data-username="ada.admin"] select.cn-role').isDisabled(), true,
      'an admin cannot change their own role');
    await assertAccessible(admin, 'staff accounts');

    // A new front-desk account; its secret is shown once.
    await admin.fill('#cn-new-username', 'fran.desk');
    await admin.fill('#cn-new-name', 'Fran Desk');
    await admin.selectOption('#cn-new-role', 'front_desk');
    await admin.fill('#cn-new-password', 'short');
    await admin.click('button.cn-add-staff');
    await admin.locator('.cn-new-staff .cn-error', { hasText: '12' }).waitFor({ timeout: 15000 });
    await admin.fill('#cn-new-password', PASSWORD);
    await admin.click('button.cn-add-staff');
    const secretCode = admin.locator('.cn-second-factor code.cn-totp-secret');
    await secretCode.waitFor({ timeout: 15000 });
    const deskSecret = (await secretCode.innerText()).trim();
    assert.match(deskSecret, /^[A-Z2-7]{16,}$/);
    assert.match(await admin.locator('code.cn-totp-uri').innerText(), /^otpauth:\/\/totp\//);
    await admin.locator('tr.cn-staff-row[data-username="fran.desk"]').waitFor({ timeout: 15000 });
    await assertAccessible(admin, 'staff accounts with a new second factor');
    await admin.click('button.cn-second-factor-done');
    assert.equal(await admin.locator('.cn-second-factor').count(), 0, 'the secret is gone from the page');

    // Staffed hours: Saturday morning too.
    await admin.click('nav.cn-admin-nav button[data-screen="hours"]');
    await admin.locator('.cn-admin-screen[data-screen="hours"]').waitFor();
    await admin.waitForFunction(() => document.querySelector('#cn-opens-mon')?.value === '08:00', null, { timeout: 15000 });
    await admin.fill('#cn-opens-sat', '12:00');
    await admin.fill('#cn-closes-sat', '09:00');
    await admin.click('button.cn-save-hours');
    await admin.locator('.cn-hours .cn-error', { hasText: 'Saturday: the closing time must be after the opening time' }).waitFor({ timeout: 15000 });
    await admin.fill('#cn-opens-sat', '09:00');
    await admin.fill('#cn-closes-sat', '12:00');
    await admin.click('button.cn-save-hours');
    await admin.locator('.cn-hours .cn-saved', { hasText: 'saved' }).waitFor({ timeout: 15000 });
    assert.equal((await admin.locator('.cn-hours .cn-error').innerText()).trim(), '');
    await assertAccessible(admin, 'staffed hours');

    // A canned response in both languages.
    await admin.click('nav.cn-admin-nav button[data-screen="canned"]');
    await admin.locator('form.cn-canned-form').waitFor();
    await assertAccessible(admin, 'canned responses (empty)');
    await admin.fill('#cn-canned-title-input', 'Checking now');
    await admin.fill('#cn-canned-en', CANNED_EN);
    await admin.fill('#cn-canned-es', CANNED_ES);
    await admin.click('button.cn-canned-save');
    await admin.locator('li.cn-canned-item', { hasText: 'Checking now' }).waitFor({ timeout: 15000 });
    await assertAccessible(admin, 'canned responses');

    // The FAQ screen.
    await admin.click('nav.cn-admin-nav button[data-screen="faq"]');
    await admin.waitForFunction(() => (document.querySelector('#cn-faq-answer-en')?.value ?? '').length > 0, null, { timeout: 15000 });
    await assertAccessible(admin, 'FAQ entries');

    // A Spanish-speaking patient asks for a person.
    const patientContext = await browser.newContext(SPANISH);
    const patient = await patientContext.newPage();
    const chat = await openConsentedChat(patient, server);
    await ask(chat, 'quiero hablar con una persona, por favor', { intent: 'handoff.person' });

    // The new front-desk user signs in with the secret the admin was shown.
    const deskContext = await browser.newContext({ locale: 'en-US' });
    const desk = await deskContext.newPage();
    await signIn(desk, server, 'fran.desk', deskSecret);
    await desk.locator('.cn-shell[data-view="queue"]').waitFor({ timeout: 15000 });
    const entry = desk.locator('li.cn-entry').first();
    await entry.waitFor({ timeout: 15000 });
    await entry.locator('button.cn-open').click();
    await desk.click('button.cn-pick-up');
    await desk.locator('select#cn-canned').waitFor({ timeout: 15000 });
    await desk.selectOption('select#cn-canned', { label: 'Checking now' });
    await desk.click('button.cn-canned-insert');
    const box = desk.locator('.cn-composer textarea.cn-input');
    assert.equal(await box.inputValue(), CANNED_ES, 'inserted in the chat\'s language, for editing');
    await box.press('End');
    await box.type(' ¿Algo más?');
    await desk.click('button.cn-send');
    await chat.locator('.cc-msg-staff', { hasText: `${CANNED_ES} ¿Algo más?` }).waitFor({ timeout: 15000 });
    assert.equal(await box.inputValue(), '', 'the box is empty once sent');

    await patientContext.close();
    await deskContext.close();
    await adminContext.close();
  });
});
