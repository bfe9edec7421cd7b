// The end-to-end harness: starts the real `carechat` server (with the demo
// clinic's web site on a second origin), drives Debian's Chromium with
// playwright-core, and records what crosses the wire.
//
// Nothing here imitates the server or the browser: the tests talk to the
// same binary and the same built widget a clinic would run.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
const BIN = process.env.CARECHAT_BIN ?? path.join(ROOT, 'target', 'debug', 'carechat');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const madeDirs = [];
process.once('exit', () => {
  for (const dir of madeDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * A fresh data directory for one test file's server, removed when the test
 * process exits (a restarted server may reuse it until then).
 */
export function tempDataDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'carechat-e2e-'));
  madeDirs.push(dir);
  return dir;
}

/** A free loopback port. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(check, what, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${lastError.message}` : ''}`);
}

/**
 * Starts `carechat serve` on a free port with the demo site on another.
 * `publicPort` makes the server advertise another port (a proxy in front).
 */
export async function startServer({ port, dataDir, publicPort, env = {} } = {}) {
  port ??= await freePort();
  const sitePort = await freePort();
  dataDir ??= tempDataDir();
  const publicOrigin = `http://127.0.0.1:${publicPort ?? port}`;
  const args = [
    'serve',
    '--listen', `127.0.0.1:${port}`,
    '--public-url', publicOrigin,
    '--data-dir', dataDir,
    '--assets-dir', path.join(ROOT, 'dist'),
    '--demo-site', `127.0.0.1:${sitePort}`,
    '--demo-site-dir', path.join(ROOT, 'public', 'demo-site'),
  ];
  const proc = spawn(BIN, args, {
    env: { ...process.env, CARECHAT_LOG: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = [];
  proc.stdout.on('data', (d) => logs.push(d.toString()));
  proc.stderr.on('data', (d) => logs.push(d.toString()));
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`carechat exited: ${logs.join('')}`);
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    return res.ok;
  }, 'carechat to answer /healthz');
  return {
    port,
    dataDir,
    chatOrigin: publicOrigin,
    siteOrigin: `http://127.0.0.1:${sitePort}`,
    logs,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/**
 * A TCP proxy on loopback in front of the server, so a test can cut every
 * connection (as a train going into a tunnel would) and refuse new ones.
 */
export async function startProxy(targetPort) {
  const port = await freePort();
  const sockets = new Set();
  let refusing = false;
  const server = net.createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const done = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', done);
    upstream.on('error', done);
    client.on('close', done);
    upstream.on('close', done);
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return {
    port,
    /** Drops every open connection and refuses new ones until `restore`. */
    cut() {
      refusing = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore() {
      refusing = false;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Records every WebSocket frame and every HTTP request and response body the
 * page (and its frames) exchange. Call `settle()` before reading: response
 * bodies arrive asynchronously.
 */
export function recordWire(page) {
  const wire = { sockets: [], frames: [], http: [], pending: [] };
  page.on('websocket', (ws) => {
    wire.sockets.push(ws.url());
    ws.on('framesent', (f) => wire.frames.push({ dir: 'sent', url: ws.url(), payload: String(f.payload) }));
    ws.on('framereceived', (f) => wire.frames.push({ dir: 'received', url: ws.url(), payload: String(f.payload) }));
  });
  page.on('request', (req) => {
    wire.http.push({ kind: 'url', url: req.url(), body: req.url() });
    const body = req.postData();
    if (body) wire.http.push({ kind: 'request', url: req.url(), body });
  });
  page.on('response', (res) => {
    wire.pending.push(
      res
        .body()
        .then((b) => wire.http.push({ kind: 'response', url: res.url(), body: b.toString('utf8') }))
        .catch(() => {}),
    );
  });
  wire.settle = () => Promise.all(wire.pending);
  /** Every recorded payload that contains `text` (case-insensitive). */
  wire.find = (text) => {
    const needle = text.toLowerCase();
    return [...wire.frames, ...wire.http].filter((r) => r.payload?.toLowerCase().includes(needle) || r.body?.toLowerCase().includes(needle));
  };
  return wire;
}

/**
 * Clicks the launcher as a patient would. It lives in a closed shadow root,
 * which page scripts (and Playwright's selectors) cannot enter, so its box is
 * found through the DevTools protocol and clicked with the mouse.
 */
export async function clickLauncher(page) {
  const box = await waitFor(async () => {
    const cdp = await page.context().newCDPSession(page);
    try {
      const { root } = await cdp.send('DOM.getDocument', { depth: -1, pierce: true });
      const host = findNode(root, (n) => (n.attributes ?? []).includes('data-carechat-launcher'));
      const button = host && findNode(host, (n) => n.nodeName === 'BUTTON');
      if (!button) return null;
      const { model } = await cdp.send('DOM.getBoxModel', { nodeId: button.nodeId });
      const [x1, y1, , , x3, y3] = model.content;
      return { x: (x1 + x3) / 2, y: (y1 + y3) / 2 };
    } finally {
      await cdp.detach();
    }
  }, 'the launcher button');
  await page.mouse.click(box.x, box.y);
}

function findNode(node, predicate) {
  if (predicate(node)) return node;
  for (const child of [...(node.children ?? []), ...(node.shadowRoots ?? []), ...(node.contentDocument ? [node.contentDocument] : [])]) {
    const found = findNode(child, predicate);
    if (found) return found;
  }
  return null;
}

/** The chat iframe's frame, once it has loaded. */
export async function chatFrame(page) {
  return waitFor(() => page.frames().find((f) => f.url().includes('/embed?')), 'the chat iframe');
}

/** Waits for the widget's root to reach a state. */
export async function waitState(frame, state, timeout = 15000) {
  await frame.waitForSelector(`#carechat-root[data-state="${state}"]`, { timeout });
}

/** Types a question, sends it, and returns the reply element's text once the clinic answers. */
export async function ask(frame, question, { intent } = {}) {
  const before = await frame.locator('.cc-msg-clinic').count();
  await frame.fill('.cc-input', question);
  await frame.click('button.cc-send');
  const reply = frame.locator('.cc-msg-clinic').nth(before);
  await reply.waitFor({ timeout: 15000 });
  if (intent) {
    const got = await reply.getAttribute('data-intent');
    if (got !== intent) throw new Error(`expected intent ${intent} for ${JSON.stringify(question)}, got ${got}`);
  }
  return (await reply.innerText()).trim();
}

/** Opens the demo site and the chat, and waits for the notice. */
export async function openChat(page, server) {
  await page.goto(`${server.siteOrigin}/`);
  await clickLauncher(page);
  const frame = await chatFrame(page);
  await waitState(frame, 'consent');
  return frame;
}

/** Every code the development outbox has delivered so far, oldest first. */
export function outboxCodes(server) {
  const file = path.join(server.dataDir, 'dev-outbox.jsonl');
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).code);
}

/** The code number `n` (1-based) of the development outbox, once it is there. */
export async function nthOutboxCode(server, n) {
  return waitFor(() => outboxCodes(server)[n - 1], `code #${n} in the development outbox`);
}

/** Opens the demo site, opens the chat and accepts the notice. */
export async function openConsentedChat(page, server) {
  await page.goto(`${server.siteOrigin}/`);
  await clickLauncher(page);
  const frame = await chatFrame(page);
  await waitState(frame, 'consent');
  await frame.click('button.cc-accept');
  await waitState(frame, 'chat');
  return frame;
}

/** axe-core's script, injected into a frame by the accessibility checks. */
export const AXE = path.join(ROOT, 'tests', 'e2e', 'node_modules', 'axe-core', 'axe.min.js');

/** WCAG 2.1 A/AA violations axe-core finds in a frame (axe injected first). */
export async function axe(frame) {
  return frame.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return r.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  });
}
