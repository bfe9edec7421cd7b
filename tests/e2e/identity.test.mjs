// The widget pins the server's identity key. A handshake answered by a
// server holding another key (a real carechat with its own key, standing in
// for an impostor behind the clinic's address) must stop the chat.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { chatFrame, clickLauncher, launchBrowser, recordWire, startServer, waitState } from './harness.mjs';

let server;
let impostor;
let browser;
before(async () => {
  server = await startServer();
  impostor = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
  await impostor?.stop();
});

test('a handshake signed by a different identity key is refused and the patient is told', async () => {
  const page = await browser.newPage();
  const wire = recordWire(page);
  let intercepted = 0;
  await page.context().route(`${server.chatOrigin}/v1/handshake`, async (route) => {
    intercepted += 1;
    // An impostor accepts the page's origin; ours would refuse a foreign one.
    const headers = { ...route.request().headers(), origin: impostor.chatOrigin };
    const response = await route.fetch({ url: `${impostor.chatOrigin}/v1/handshake`, headers });
    await route.fulfill({ response });
  });
  await page.goto(`${server.siteOrigin}/`);
  await clickLauncher(page);
  const frame = await chatFrame(page);
  await waitState(frame, 'identity-failed');
  assert.ok(intercepted >= 1, 'the handshake went to the impostor');
  const text = await frame.locator('.cc-error').innerText();
  assert.match(text, /verify/i);
  assert.match(text, /911/);
  // It never opened the WebSocket, and never offered the consent screen.
  assert.deepEqual(wire.sockets, []);
  assert.equal(await frame.locator('button.cc-accept').count(), 0);
  // The message box stays hidden (it is only shown on the consent and chat screens).
  assert.equal(await frame.locator('.cc-input:visible').count(), 0);
  await page.close();
});

test('the genuine server is accepted (control for the test above)', async () => {
  const page = await browser.newPage();
  await page.goto(`${server.siteOrigin}/`);
  await clickLauncher(page);
  const frame = await chatFrame(page);
  await waitState(frame, 'consent');
  await page.close();
});
