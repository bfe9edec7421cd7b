// A patient in a crisis must get help before reading, let alone accepting,
// any notice. From the consent screen's message box, in Spanish and in
// English, a crisis message gets the escalated reply and the emergency card
// with tap-to-call buttons right there, announced assertively; consent is
// never given. Anything else typed there gets a one-line hint and stays.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AXE, axe, launchBrowser, openChat, startServer, waitState } from './harness.mjs';

/** Sends `text` from the consent screen and waits for the clinic's answer. */
async function sayOnConsent(frame, text) {
  await frame.fill('.cc-input', text);
  await frame.click('button.cc-send');
}

/** The emergency guidance on the consent screen: reply and card, with checks. */
async function expectEmergencyGuidance(frame) {
  const consent = frame.locator('section.cc-consent');
  const reply = consent.locator('.cc-msg-escalated');
  await reply.waitFor({ timeout: 15000 });
  assert.equal(await reply.getAttribute('data-escalated'), 'true');
  assert.match(await reply.getAttribute('data-intent'), /^safety\.(crisis|emergency)$/);
  assert.equal(await reply.locator('[role="alert"]').count(), 1, 'the reply is announced assertively');
  const card = consent.locator('.cc-card-emergency');
  await card.waitFor({ timeout: 15000 });
  assert.equal(await card.getAttribute('data-card'), 'emergency');
  assert.equal(await card.locator('[role="alert"]').count(), 1, 'the card is announced assertively');
  for (const href of ['tel:988', 'tel:911']) {
    const link = card.locator(`a.cc-call[href="${href}"]`);
    assert.equal(await link.count(), 1, `${href} on the emergency card`);
    const box = await link.boundingBox();
    assert.ok(box.width >= 44 && box.height >= 44, `${href} is a 44×44 touch target: ${JSON.stringify(box)}`);
  }
  // Every href on the card is a call or a text, nothing else.
  for (const href of await card.locator('a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href')))) {
    assert.match(href, /^(tel|sms):/);
  }
  // The guidance sits above Accept and Decline, on the consent screen.
  const above = await frame.evaluate(() => {
    const card = document.querySelector('.cc-consent .cc-card-emergency');
    const accept = document.querySelector('.cc-consent button.cc-accept');
    return Boolean(card.compareDocumentPosition(accept) & Node.DOCUMENT_POSITION_FOLLOWING);
  });
  assert.ok(above, 'the emergency card comes before the consent buttons');
  // Numbers in the reply's words are links too.
  assert.ok((await reply.locator('a.cc-tel[href^="tel:"]').count()) >= 1, 'the reply has tap-to-call numbers');
  await waitState(frame, 'consent');
  return { reply, card };
}

describe('safety before consent', () => {
  let server;
  let browser;
  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('a crisis typed in Spanish on the consent screen gets emergency guidance there, before any consent', async () => {
    const context = await browser.newContext({ locale: 'es-ES', extraHTTPHeaders: { 'Accept-Language': 'es-ES,es;q=0.9' } });
    const page = await context.newPage();
    const frame = await openChat(page, server);
    assert.match(await frame.locator('label[for="cc-input"]').innerText(), /emergencia/i);
    await sayOnConsent(frame, 'quiero quitarme la vida');
    const { card } = await expectEmergencyGuidance(frame);
    assert.match(await card.innerText(), /988/);
    assert.equal(await frame.locator('.cc-notice', { hasText: /gracias/i }).count(), 0, 'no consent notice');
    await context.close();
  });

  test('a crisis typed in English on the consent screen gets emergency guidance there, before any consent', async () => {
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const frame = await openChat(page, server);
    await sayOnConsent(frame, 'I want to end my life');
    const { reply } = await expectEmergencyGuidance(frame);
    assert.match(await reply.innerText(), /988/);
    // The patient can still read the notice and accept: the chat carries on
    // with the guidance in its transcript.
    await frame.click('button.cc-accept');
    await waitState(frame, 'chat');
    assert.equal(await frame.locator('.cc-transcript .cc-card-emergency a.cc-call[href="tel:988"]').count(), 1);
    await context.close();
  });

  test('anything else typed before consent gets a one-line hint and the consent screen stays', async () => {
    const page = await browser.newPage();
    const frame = await openChat(page, server);
    await sayOnConsent(frame, 'what are your hours?');
    const hint = frame.locator('.cc-consent-hint');
    await frame.waitForFunction(() => document.querySelector('.cc-consent-hint')?.textContent.trim());
    assert.match(await hint.innerText(), /accept/i);
    assert.match(await hint.innerText(), /911/);
    assert.equal(await frame.locator('.cc-msg-patient[data-status="failed"]').count(), 1);
    await waitState(frame, 'consent');
    // Accepting still works, and the hint goes.
    await frame.click('button.cc-accept');
    await waitState(frame, 'chat');
    await page.close();
  });

  test('the consent screen with emergency guidance passes axe-core WCAG 2.1 AA checks', async () => {
    // axe is injected, so this context bypasses CSP (as in embed.test.mjs).
    const context = await browser.newContext({ bypassCSP: true, locale: 'es-ES' });
    const page = await context.newPage();
    const frame = await openChat(page, server);
    await sayOnConsent(frame, 'quiero quitarme la vida');
    await expectEmergencyGuidance(frame);
    await frame.addScriptTag({ path: AXE });
    assert.deepEqual(await axe(frame), []);
    await context.close();
  });
});
