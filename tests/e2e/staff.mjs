// Staff accounts for the console's end-to-end tests: made with the real
// CLI (`carechat staff add`), signed in with the password and a TOTP code
// computed here from the account's secret (RFC 6238, as an authenticator
// app does), and checked with axe-core for WCAG 2.2 A/AA.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { AXE, ROOT } from './harness.mjs';

const BIN = process.env.CARECHAT_BIN ?? path.join(ROOT, 'target', 'debug', 'carechat');
export const PASSWORD = 'correct horse battery staple';

/** Creates a staff account with the real CLI; returns its TOTP secret. */
export function addStaff(dataDir, username, name, role) {
  const out = execFileSync(BIN, ['staff', 'add', '--username', username, '--name', name, '--role', role], {
    env: { ...process.env, CARECHAT_DATA_DIR: dataDir, CARECHAT_STAFF_PASSWORD: PASSWORD },
    encoding: 'utf8',
  });
  const secret = /secret:\s*([A-Z2-7]+)/.exec(out)?.[1];
  assert.ok(secret, `no TOTP secret printed: ${out}`);
  return secret;
}

function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** RFC 6238: the 6-digit code for `secret` at step `step`. */
export function totp(secret, step = Math.floor(Date.now() / 1000 / 30)) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = crypto.createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}

/** Opens the console and signs in with the password and the current code. */
export async function signIn(page, server, username, secret) {
  await page.goto(`${server.chatOrigin}/console/`);
  await page.fill('#cn-username', username);
  await page.fill('#cn-password', PASSWORD);
  await page.fill('#cn-code', totp(secret));
  await page.click('button.cn-sign-in-submit');
}

/**
 * Asserts that axe-core finds no WCAG 2.2 A/AA violation on `page` as it
 * is now. The page's context must bypass CSP (only so axe can be injected).
 */
export async function assertAccessible(page, screen) {
  await page.addScriptTag({ path: AXE });
  const found = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } });
    return r.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  });
  assert.deepEqual(found, [], `${screen}: ${found.join('; ')}`);
}
