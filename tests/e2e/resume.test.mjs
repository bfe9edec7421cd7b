// Connections drop; messages must not. A TCP proxy between the browser and
// the server cuts every connection while the patient keeps typing.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ask, launchBrowser, openConsentedChat, startProxy, startServer, waitState } from './harness.mjs';
import { freePort, tempDataDir } from './harness.mjs';
import fs from 'node:fs';
import path from 'node:path';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test('a message typed while the connection is down is delivered after it comes back', async () => {
  const port = await freePort();
  const proxyPortHolder = await startProxy(port); // reserve the proxy first so the server advertises it
  const server = await startServer({ port, publicPort: proxyPortHolder.port });
  try {
    const page = await browser.newPage();
    const frame = await openConsentedChat(page, server);
    await ask(frame, 'is there parking', { intent: 'faq.parking' });

    proxyPortHolder.cut();
    await frame.fill('.cc-input', 'do you take aetna?');
    await frame.click('button.cc-send');
    await page.waitForTimeout(1500);
    proxyPortHolder.restore();

    const reply = frame.locator('.cc-msg-clinic[data-intent="faq.insurance"]');
    await reply.waitFor({ timeout: 20000 });
    assert.equal(await reply.count(), 1, 'answered exactly once');
    assert.equal(await frame.locator('.cc-msg-patient').count(), 2, 'no message lost or duplicated');
    await page.close();
  } finally {
    await server.stop();
    await proxyPortHolder.close();
  }
});

test('a chat carries on after the server restarts: still consented, history kept', async () => {
  const server = await startServer();
  let restarted;
  try {
    const page = await browser.newPage();
    const frame = await openConsentedChat(page, server);
    await ask(frame, 'where are you located', { intent: 'faq.location' });
    // Sessions are stored: the restarted server resumes this one.
    await server.stop();
    restarted = await startServer({ port: server.port, dataDir: server.dataDir });
    await ask(frame, 'is there parking', { intent: 'faq.parking' });
    assert.equal(await frame.locator('#carechat-root[data-state="consent"]').count(), 0, 'no new consent asked');
    assert.equal(await frame.locator('.cc-msg-clinic[data-intent="faq.location"]').count(), 1, 'the earlier answer is still there');
    await page.close();
  } finally {
    await restarted?.stop();
  }
});

test('when the server has forgotten the session, a new one starts and the patient is told', async () => {
  const server = await startServer();
  let restarted;
  try {
    const page = await browser.newPage();
    const frame = await openConsentedChat(page, server);
    await ask(frame, 'where are you located', { intent: 'faq.location' });
    // The server comes back on a database that never saw this session
    // (restored from an older backup, say), with the same identity key.
    await server.stop();
    const fresh = tempDataDir();
    fs.copyFileSync(path.join(server.dataDir, 'identity.key'), path.join(fresh, 'identity.key'));
    fs.chmodSync(path.join(fresh, 'identity.key'), 0o600);
    restarted = await startServer({ port: server.port, dataDir: fresh });
    await waitState(frame, 'consent', 30000);
    assert.match(await frame.locator('#carechat-root').innerText(), /new (chat )?session/i);
    await page.close();
  } finally {
    await restarted?.stop();
  }
});
