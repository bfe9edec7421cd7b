// Passkeys in the staff console, in Chromium with a virtual authenticator
// (the DevTools protocol's WebAuthn domain: CTAP2, internal transport,
// resident keys, user verification): a nurse signs in with password and
// TOTP code, adds a passkey from the top bar, signs out, and signs in with
// the passkey alone (user verified: both factors), landing in the console.
// With user verification failing, the same passkey does not sign in and the
// screen says so. The console runs under its own strict CSP throughout;
// axe-core checks the passkey controls in a second context.
//
// WebAuthn accepts no IP address as the relying party's ID, so this server
// is started with a public URL on `localhost` (the other tests use
// 127.0.0.1); Chromium is told to resolve localhost to 127.0.0.1, where
// the server listens.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { ROOT, freePort, tempDataDir } from './harness.mjs';
import { addStaff, assertAccessible, signIn } from './staff.mjs';

const BIN = process.env.CARECHAT_BIN ?? path.join(ROOT, 'target', 'debug', 'carechat');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** `carechat serve` on 127.0.0.1, advertising http://localhost:<port>. */
async function startLocalhostServer(dataDir) {
  const port = await freePort();
  const chatOrigin = `http://localhost:${port}`;
  const proc = spawn(
    BIN,
    ['serve', '--listen', `127.0.0.1:${port}`, '--public-url', chatOrigin, '--data-dir', dataDir, '--assets-dir', path.join(ROOT, 'dist')],
    { env: { ...process.env, CARECHAT_LOG: 'debug' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs = [];
  proc.stdout.on('data', (d) => logs.push(d.toString()));
  proc.stderr.on('data', (d) => logs.push(d.toString()));
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const deadline = Date.now() + 15000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`carechat exited: ${logs.join('')}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`carechat did not answer /healthz: ${logs.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    chatOrigin,
    logs,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** A CTAP2 platform authenticator with user verification, on `page`. */
async function virtualAuthenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

/** Opens the top bar's passkey panel and adds a passkey named `name`. */
async function addPasskey(page, name) {
  await page.click('button.cn-passkeys-toggle');
  await page.locator('#cn-passkeys').waitFor({ timeout: 15000 });
  assert.equal(await page.getAttribute('button.cn-passkeys-toggle', 'aria-expanded'), 'true');
  // Focus moves on the next animation frame, after the panel is drawn.
  await page.waitForFunction(() => document.activeElement?.id === 'cn-passkey-name', null, { timeout: 5000 });
  await page.fill('#cn-passkey-name', name);
  await page.click('button.cn-passkey-add');
  await page.locator('li.cn-passkey', { hasText: name }).waitFor({ timeout: 15000 });
  assert.match(await page.locator('#cn-passkeys [role="status"]').innerText(), /added/);
}

describe('passkeys in the staff console', () => {
  let server;
  let browser;
  let secret;
  let otherSecret;
  before(async () => {
    const dataDir = tempDataDir();
    secret = addStaff(dataDir, 'sam.rivera', 'Sam Rivera', 'nurse');
    otherSecret = addStaff(dataDir, 'ann.lee', 'Ann Lee', 'front_desk');
    server = await startLocalhostServer(dataDir);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--host-resolver-rules=MAP localhost 127.0.0.1',
      ],
    });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('a nurse adds a passkey, signs out, and signs in with the passkey alone', async () => {
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const cspViolations = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    const { cdp, authenticatorId } = await virtualAuthenticator(page);

    await signIn(page, server, 'sam.rivera', secret);
    await page.locator('button.cn-sign-out').waitFor({ timeout: 15000 });
    await addPasskey(page, 'Test laptop');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1, 'one passkey on the authenticator');
    assert.equal(credentials[0].rpId, 'localhost');

    // Escape closes the panel and gives focus back to its button.
    await page.keyboard.press('Escape');
    await page.locator('#cn-passkeys').waitFor({ state: 'detached', timeout: 5000 });
    await page.waitForFunction(
      () => document.activeElement?.classList.contains('cn-passkeys-toggle'),
      null,
      { timeout: 5000 },
    );

    await page.click('button.cn-sign-out');
    await page.locator('#cn-username').waitFor({ timeout: 15000 });

    // Without a username first, the screen asks for one.
    await page.click('button.cn-passkey-sign-in');
    assert.match(await page.locator('.cn-sign-in .cn-error[role="alert"]').innerText(), /Enter your username/);

    // The passkey alone: no password, no code.
    await page.fill('#cn-username', 'sam.rivera');
    await page.click('button.cn-passkey-sign-in');
    await page.locator('button.cn-sign-out').waitFor({ timeout: 15000 });
    assert.match(await page.locator('.cn-who').innerText(), /Sam Rivera/);
    const { credentials: used } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.ok(used[0].signCount >= 1, 'the authenticator signed');

    // The passkey is listed, with its name, in the panel.
    await page.click('button.cn-passkeys-toggle');
    await page.locator('li.cn-passkey', { hasText: 'Test laptop' }).waitFor({ timeout: 15000 });
    await page.click('button.cn-passkeys-close');

    // User verification failing: no sign-in, and the screen says why.
    await page.click('button.cn-sign-out');
    await page.locator('#cn-username').waitFor({ timeout: 15000 });
    await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: false });
    await page.fill('#cn-username', 'sam.rivera');
    await page.click('button.cn-passkey-sign-in');
    const error = page.locator('.cn-sign-in .cn-error[role="alert"]');
    await page.waitForFunction(() => document.querySelector('.cn-sign-in .cn-error')?.textContent?.trim(), null, { timeout: 15000 });
    assert.match(await error.innerText(), /passkey/i);
    assert.equal(await page.locator('button.cn-sign-out').count(), 0, 'still signed out');

    assert.deepEqual(cspViolations, [], 'the console needed nothing its CSP forbids');
    await context.close();
  });

  test('axe-core finds no WCAG 2.2 A/AA violation on the passkey controls', async () => {
    // Bypassing the console's CSP only so axe's script can be injected.
    const context = await browser.newContext({ locale: 'en-US', bypassCSP: true });
    const page = await context.newPage();
    await virtualAuthenticator(page);
    await page.goto(`${server.chatOrigin}/console/`);
    await page.locator('button.cn-passkey-sign-in').waitFor({ timeout: 15000 });
    await assertAccessible(page, 'sign-in with the passkey button');
    await signIn(page, server, 'ann.lee', otherSecret);
    await page.locator('button.cn-sign-out').waitFor({ timeout: 15000 });
    await addPasskey(page, 'Front desk PC');
    await assertAccessible(page, 'passkey panel');
    await context.close();
  });
});
