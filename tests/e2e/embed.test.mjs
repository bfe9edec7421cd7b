// What the embed costs a clinic's page before anyone chats, and whether the
// chat is usable by everyone: nothing is fetched from the chat origin until
// the patient opens it, and axe-core finds no WCAG 2.1 A/AA violation on
// any of the widget's screens.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AXE, axe, chatFrame, clickLauncher, launchBrowser, startServer, waitState } from './harness.mjs';

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

test('the host page loads only the loader from the chat origin until the chat is opened', async () => {
  const page = await browser.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`${server.siteOrigin}/`, { waitUntil: 'networkidle' });
  await page.waitForTimeout(500);
  const fromChat = requests.filter((u) => u.startsWith(server.chatOrigin));
  assert.deepEqual(fromChat, [`${server.chatOrigin}/widget.js`]);

  await clickLauncher(page);
  await chatFrame(page);
  await page.waitForTimeout(500);
  const after = requests.filter((u) => u.startsWith(server.chatOrigin));
  assert.ok(after.some((u) => u.includes('/embed?')), 'opening the chat loads the embed page');
  assert.ok(after.some((u) => u.endsWith('/v1/handshake')), 'and starts a session');
  await page.close();
});

test('every screen of the widget passes axe-core WCAG 2.1 AA checks', async () => {
  // axe is injected as a script; the embed page's CSP (rightly) allows no
  // such thing, so this one context bypasses CSP.
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${server.siteOrigin}/`);
  await clickLauncher(page);
  const frame = await chatFrame(page);
  await waitState(frame, 'consent');
  await frame.addScriptTag({ path: AXE });
  const checked = {};
  checked.consent = await axe(frame);
  await frame.click('button.cc-accept');
  await waitState(frame, 'chat');
  await frame.fill('.cc-input', 'what are your hours');
  await frame.click('button.cc-send');
  await frame.locator('.cc-msg-clinic').first().waitFor();
  await frame.fill('.cc-input', 'i want to kill myself');
  await frame.click('button.cc-send');
  await frame.locator('.cc-msg-escalated').first().waitFor();
  checked.chat = await axe(frame);
  await frame.click('button.cc-end');
  await waitState(frame, 'ended');
  checked.ended = await axe(frame);

  const declinedPage = await context.newPage();
  await declinedPage.goto(`${server.siteOrigin}/`);
  await clickLauncher(declinedPage);
  const declinedFrame = await chatFrame(declinedPage);
  await waitState(declinedFrame, 'consent');
  await declinedFrame.addScriptTag({ path: AXE });
  await declinedFrame.click('button.cc-decline');
  await waitState(declinedFrame, 'declined');
  checked.declined = await axe(declinedFrame);

  assert.deepEqual(checked, { consent: [], chat: [], ended: [], declined: [] });
  await context.close();
});
