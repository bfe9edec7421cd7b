// A Spanish-speaking patient: the widget starts in Spanish (the browser's
// language, passed on by the loader, and its Accept-Language), every word of
// it comes from the server's catalog, the language button switches to
// English and back (the notice too), and a verified patient books an
// appointment in Spanish from greeting to booked card.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ask, AXE, axe, launchBrowser, nthOutboxCode, openChat, outboxCodes, startServer, waitState } from './harness.mjs';

const SPANISH = { locale: 'es-ES', extraHTTPHeaders: { 'Accept-Language': 'es-ES,es;q=0.9' } };

/** The widget's words that show on the consent screen. */
async function consentWords(frame) {
  const text = (selector) => frame.locator(selector).first().innerText();
  return {
    lang: await frame.locator('#carechat-root').getAttribute('lang'),
    subtitle: await text('.cc-subtitle'),
    end: await text('button.cc-end'),
    title: await text('#cc-consent-title'),
    accept: await text('button.cc-accept'),
    decline: await text('button.cc-decline'),
    label: await text('label[for="cc-input"]'),
    send: await text('button.cc-send'),
    safety: await text('.cc-safety'),
    switchTo: await text('button.cc-language'),
    switchLang: await frame.locator('button.cc-language').getAttribute('lang'),
  };
}

/** Waits until the notice on the consent screen matches `pattern`. */
async function disclaimerMatches(frame, pattern) {
  await frame.waitForFunction(
    (source) => new RegExp(source, 'i').test(document.querySelector('.cc-disclaimer')?.textContent ?? ''),
    pattern.source,
    { timeout: 15000 },
  );
}

/** The newest card of a kind, once it is there. */
async function card(frame, kind, count = 1) {
  const cards = frame.locator(`.cc-card[data-card="${kind}"]`);
  await cards.nth(count - 1).waitFor({ timeout: 15000 });
  return cards.nth(count - 1);
}

describe('the widget in Spanish', () => {
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

  test('a Spanish browser sees the widget in Spanish, and the language button switches to English and back', async () => {
    const context = await browser.newContext(SPANISH);
    const page = await context.newPage();
    const frame = await openChat(page, server);
    const spanish = {
      lang: 'es',
      subtitle: 'Chat seguro',
      end: 'Terminar chat',
      title: 'Antes de empezar',
      accept: 'Aceptar',
      decline: 'No aceptar',
      label: '¿Es una emergencia? Escríbanos aquí o llame al 911.',
      send: 'Enviar',
      safety:
        'No es consejo médico. En una emergencia, llame al 911. En una crisis de salud mental, llame o envíe un mensaje de texto al 988.',
      switchTo: 'English',
      switchLang: 'en',
    };
    assert.deepEqual(await consentWords(frame), spanish);
    assert.equal(await frame.evaluate(() => document.documentElement.lang), 'es');
    // The safety line's numbers are links in Spanish too.
    assert.equal(await frame.locator('.cc-safety a.cc-tel[href="tel:911"]').count(), 1);
    assert.equal(await frame.locator('.cc-safety a.cc-tel[href="tel:988"]').count(), 1);
    // The server's notice follows: the widget asked for Spanish after welcome.
    await disclaimerMatches(frame, /emergencia/);

    await frame.click('button.cc-language');
    await frame.waitForSelector('#carechat-root[lang="en"]');
    const english = await consentWords(frame);
    assert.deepEqual(
      { ...english, label: undefined, safety: undefined },
      {
        lang: 'en',
        subtitle: 'Secure chat',
        end: 'End chat',
        title: 'Before we start',
        accept: 'Accept',
        decline: 'Decline',
        label: undefined,
        send: 'Send',
        safety: undefined,
        switchTo: 'Español',
        switchLang: 'es',
      },
    );
    assert.match(english.label, /In an emergency\? Tell us here, or call 911/);
    assert.match(english.safety, /^Not medical advice/);
    await disclaimerMatches(frame, /not medical advice/);

    await frame.click('button.cc-language');
    await frame.waitForSelector('#carechat-root[lang="es"]');
    assert.deepEqual(await consentWords(frame), spanish);
    await disclaimerMatches(frame, /emergencia/);
    await context.close();
  });

  test('a Spanish patient chats in Spanish from greeting to a booked appointment', async () => {
    // axe is injected at the end, so this context bypasses CSP.
    const context = await browser.newContext({ ...SPANISH, bypassCSP: true });
    const page = await context.newPage();
    const frame = await openChat(page, server);
    await frame.click('button.cc-accept');
    await waitState(frame, 'chat');
    assert.equal(await frame.locator('button.cc-send').innerText(), 'Enviar');
    assert.equal(await frame.locator('label[for="cc-input"]').innerText(), 'Su mensaje');

    const greeting = await ask(frame, 'hola', { intent: 'chat.greeting' });
    assert.match(greeting, /hola/i);
    const details = await ask(frame, 'quiero una cita con la Dra. Patel el martes por la tarde', {
      intent: 'identity.details_needed',
    });
    assert.match(details, /fecha de nacimiento/i);
    const before = outboxCodes(server).length;
    const sent = await ask(frame, 'nací el 2 de marzo de 1984, Sample', { intent: 'identity.code_sent' });
    assert.match(sent, /código/i);
    const code = await nthOutboxCode(server, before + 1);
    const offered = await ask(frame, code, { intent: 'appointments.book' });
    assert.match(offered, /horario/i);

    const slots = await card(frame, 'slots');
    const when = await slots.locator('.cc-card-when').allInnerTexts();
    assert.ok(when.length >= 1, 'free times offered');
    for (const line of when) assert.match(line, /^martes /i, `a Tuesday in Spanish: ${line}`);
    let replies = await frame.locator('.cc-msg-clinic').count();
    await slots.locator('button.cc-card-action').first().click();
    await frame.locator('.cc-msg-clinic').nth(replies).waitFor({ timeout: 15000 });
    const confirm = await card(frame, 'confirm');
    const yes = confirm.locator('button.cc-card-action').first();
    assert.match(await yes.innerText(), /^Sí/);
    replies = await frame.locator('.cc-msg-clinic').count();
    await yes.click();
    const booked = frame.locator('.cc-msg-clinic').nth(replies);
    await booked.waitFor({ timeout: 15000 });
    assert.equal(await booked.getAttribute('data-intent'), 'appointments.booked');
    assert.match(await booked.innerText(), /reservada/i);
    const bookedCard = await card(frame, 'booked');
    const bookedText = await bookedCard.innerText();
    // A Spanish date: the weekday spelled out, the month, in
    // Spanish, nothing in English.
    assert.match(bookedText, /\bmartes\b/i, bookedText);
    assert.match(bookedText, /Patel/, bookedText);
    assert.match(bookedText, /\b(ene|feb|mar|abr|may|jun|jul|ago|sep|sept|oct|nov|dic)[a-z]*\b/i, bookedText);
    assert.doesNotMatch(bookedText, /\b(Tue|Tuesday|Dec|PM|AM)\b/, bookedText);
    // The clinic's number in a Spanish reply is a tap-to-call link.
    assert.equal(await booked.locator('a.cc-tel[href="tel:+15550104477"]').count(), 1);

    await frame.addScriptTag({ path: AXE });
    assert.deepEqual(await axe(frame), []);
    await context.close();
  });
});
