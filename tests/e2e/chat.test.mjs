// A patient on the demo clinic's web site, in a real Chromium, against the
// real server: the conversation works, and nothing readable crosses the wire
// or reaches the host page.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ask,
  chatFrame,
  clickLauncher,
  launchBrowser,
  openConsentedChat,
  recordWire,
  startServer,
  waitState,
} from './harness.mjs';

const QUESTION = 'what time do you open on saturday?';

describe('chat on the demo clinic site', () => {
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

  test('a patient asks about Saturday hours; only ciphertext crosses the wire', async () => {
    const page = await browser.newPage();
    const wire = recordWire(page);
    const frame = await openConsentedChat(page, server);
    const answer = await ask(frame, QUESTION, { intent: 'faq.hours' });
    assert.match(answer, /saturday/i);
    assert.match(answer, /9/);
    await wire.settle();

    // The recording worked: it holds the handshake and encrypted frames both ways.
    assert.ok(wire.http.some((r) => r.kind === 'response' && r.url.endsWith('/v1/handshake')), 'handshake recorded');
    assert.ok(wire.frames.filter((f) => f.dir === 'sent').length >= 3, 'frames sent recorded');
    assert.ok(wire.frames.filter((f) => f.dir === 'received').length >= 4, 'frames received recorded');
    for (const f of wire.frames) {
      const frameJson = JSON.parse(f.payload);
      assert.deepEqual(Object.keys(frameJson).sort(), ['ct', 'seq'], 'every frame is {seq, ct}');
    }
    // Neither the question nor the answer (nor a telling piece of either) is on the wire.
    for (const secret of [QUESTION, 'open on saturday', answer, answer.slice(0, 24)]) {
      assert.deepEqual(wire.find(secret), [], `${JSON.stringify(secret)} appeared on the wire`);
    }
    // Nor any of the protocol's inner JSON: message types and intents live
    // only inside the ciphertext (the widget's own code may name them, so
    // this looks at frames and API bodies, not at static files).
    const protocolTraffic = [...wire.frames.map((f) => f.payload), ...wire.http.filter((r) => r.url.includes('/v1/')).map((r) => r.body)];
    for (const marker of ['"type"', 'faq.hours', '"say"', 'policy_version']) {
      assert.ok(!protocolTraffic.some((p) => p.includes(marker)), `${marker} appeared in protocol traffic`);
    }
    // Nor in the server's log.
    const log = server.logs.join('');
    assert.ok(log.includes('answered'), 'the server log was captured');
    for (const secret of [QUESTION, 'saturday', answer.slice(0, 24)]) {
      assert.ok(!log.toLowerCase().includes(secret.toLowerCase()), `${JSON.stringify(secret)} appeared in the server log`);
    }
    await page.close();
  });

  test('script on the host page cannot read the transcript', async () => {
    const page = await browser.newPage();
    // A hostile tracker that runs before the loader and forces shadow roots
    // open, so it can reach the iframe element itself.
    const siteOrigin = server.siteOrigin;
    await page.addInitScript((origin) => {
      if (location.origin !== origin) return;
      const attach = Element.prototype.attachShadow;
      window.__roots = [];
      Element.prototype.attachShadow = function (init) {
        const root = attach.call(this, { ...init, mode: 'open' });
        window.__roots.push(root);
        return root;
      };
    }, siteOrigin);
    const frame = await openConsentedChat(page, server);
    const answer = await ask(frame, QUESTION, { intent: 'faq.hours' });
    await page.waitForTimeout(1200); // let the demo tracker take another snapshot

    const seen = await page.evaluate(() => {
      const out = { iframes: 0, contentDocument: [], readErrors: [], text: document.documentElement.outerHTML };
      const iframes = [...document.querySelectorAll('iframe'), ...window.__roots.flatMap((r) => [...r.querySelectorAll('iframe')])];
      out.iframes = iframes.length;
      for (const iframe of iframes) {
        out.contentDocument.push(iframe.contentDocument === null ? 'null' : 'readable');
        try {
          out.text += iframe.contentWindow.document.body.innerText;
          out.readErrors.push('none');
        } catch (e) {
          out.readErrors.push(e.name);
        }
        out.text += iframe.outerHTML + iframe.src;
      }
      for (const root of window.__roots) out.text += root.innerHTML;
      out.text += document.body.innerText + JSON.stringify(window.__trackerCapture ?? []);
      out.trackerEntries = (window.__trackerCapture ?? []).length;
      return out;
    });
    assert.ok(seen.iframes >= 1, 'the hostile script found the iframe element');
    assert.ok(seen.trackerEntries > 0, 'the demo tracker was recording');
    assert.deepEqual(seen.contentDocument, seen.contentDocument.map(() => 'null'));
    assert.deepEqual(seen.readErrors, seen.readErrors.map(() => 'SecurityError'));
    for (const secret of [QUESTION, answer.slice(0, 24)]) {
      assert.ok(!seen.text.toLowerCase().includes(secret.toLowerCase()), `${JSON.stringify(secret)} reached the host page`);
    }
    await page.close();
  });

  test('declining the notice processes nothing and gives the clinic phone number', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.siteOrigin}/`);
    await clickLauncher(page);
    const frame = await chatFrame(page);
    await waitState(frame, 'consent');
    const notice = await frame.locator('#carechat-root').innerText();
    assert.match(notice, /not medical advice/i);
    assert.match(notice, /911/);
    assert.match(notice, /988/);
    await frame.click('button.cc-decline');
    await waitState(frame, 'declined');
    assert.match(await frame.locator('#carechat-root').innerText(), /\(555\) 010-4477/);
    await page.close();
  });

  test('the whole chat works from the keyboard', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.siteOrigin}/`);
    await clickLauncher(page);
    const frame = await chatFrame(page);
    await waitState(frame, 'consent');
    await frame.focus('button.cc-accept');
    await page.keyboard.press('Enter');
    await waitState(frame, 'chat');
    await frame.focus('.cc-input');
    await page.keyboard.type('do you take aetna?');
    await page.keyboard.press('Enter');
    await frame.locator('.cc-msg-clinic[data-intent="faq.insurance"]').waitFor({ timeout: 15000 });
    await page.close();
  });

  test('a crisis message gets emergency guidance, marked as escalated', async () => {
    const page = await browser.newPage();
    const frame = await openConsentedChat(page, server);
    const answer = await ask(frame, 'i dont want to be alive anymore', { intent: 'safety.crisis' });
    assert.match(answer, /988/);
    assert.match(answer, /911/);
    await page.close();
  });

  test('ending the chat clears the transcript and a new chat can start', async () => {
    const page = await browser.newPage();
    const frame = await openConsentedChat(page, server);
    await ask(frame, 'where are you located', { intent: 'faq.location' });
    await frame.click('button.cc-end');
    await waitState(frame, 'ended');
    assert.equal(await frame.locator('.cc-msg-clinic').count(), 0);
    await page.close();
  });
});
