// The attack suite: the real `carechat` binary, driven from outside by an
// independent protocol client (protocol-client.mjs, written from
// docs/PROTOCOL.md with Node's WebCrypto) as a penetration tester would.
// Each attack ends with a real patient still served and nothing leaked.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { startServer } from './harness.mjs';
import { ask, connect, handshake, identityKey, open, patient, recv, Session } from './protocol-client.mjs';

let server;
let pinned;

before(async () => {
  server = await startServer({
    env: {
      CARECHAT_TRUSTED_PROXIES: '127.0.0.1',
      CARECHAT_HANDSHAKES_PER_MINUTE: '5',
      CARECHAT_MESSAGES_PER_MINUTE: '8',
    },
  });
  pinned = await identityKey(server.chatOrigin);
});

after(async () => {
  await server?.stop();
});

/** A patient behind the proxy at `address` asks a question and is answered. */
async function served(address, text = 'what are your hours') {
  const { session, conn } = await patient(server.chatOrigin, pinned, {
    headers: { 'x-forwarded-for': address },
  });
  const messages = await ask(conn, session, 'p1', text);
  const reply = messages.at(-1);
  assert.equal(reply.type, 'reply', JSON.stringify(reply));
  conn.close();
  return reply;
}

test('spoofed X-Forwarded-For entries do not buy more handshakes, nor reach the audit log', async () => {
  const statuses = [];
  for (let i = 0; i < 12; i += 1) {
    // The client writes its own entry; the proxy appends what it saw.
    const result = await handshake(server.chatOrigin, pinned, {
      headers: { 'x-forwarded-for': `10.66.0.${i}, 203.0.113.50` },
    });
    statuses.push(result instanceof Session ? 200 : result.status);
  }
  assert.deepEqual(statuses.slice(0, 5), [200, 200, 200, 200, 200]);
  assert.ok(statuses.slice(5).every((s) => s === 429), statuses.join(','));
  await served('203.0.113.51');
  const logs = server.logs.join('');
  assert.ok(!logs.includes('10.66.0.'), 'a forged address reached the log');
});

test('a text/plain cross-origin handshake flood is refused, then a real patient is served', async () => {
  const hello = JSON.stringify({ v: 1, client_pub: 'AA', client_nonce: 'AA' });
  const answers = [];
  for (let i = 0; i < 50; i += 1) {
    const res = await fetch(`${server.chatOrigin}/v1/handshake`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8', origin: 'https://evil.example', 'x-forwarded-for': '198.51.100.7' },
      body: hello,
    });
    answers.push(res.status);
  }
  assert.ok(answers.every((s) => s === 415), answers.join(','));
  // Declared JSON from a page elsewhere: refused too (no session is made).
  const foreign = await handshake(server.chatOrigin, pinned, {
    headers: { origin: 'https://evil.example', 'x-forwarded-for': '198.51.100.8' },
  });
  assert.deepEqual(foreign, { status: 403, error: 'origin_not_allowed' });
  // The chat's own iframe origin is welcome.
  await served('203.0.113.52');
  const own = await handshake(server.chatOrigin, pinned, {
    headers: { origin: server.chatOrigin, 'x-forwarded-for': '203.0.113.53' },
  });
  assert.ok(own instanceof Session);
});

test('a stranger holding only the sid cannot read, displace or end the chat', async () => {
  const { session, conn } = await patient(server.chatOrigin, pinned, {
    headers: { 'x-forwarded-for': '203.0.113.60' },
  });
  // What a proxy log would give away: the sid.
  const sid = session.sidText;
  const silent = await connect(server.chatOrigin, sid);
  for (const junk of ['hello', '{"seq":1,"ct":"AAAA"}', 'x'.repeat(64 * 1024)]) {
    const stranger = await connect(server.chatOrigin, sid);
    stranger.send(junk);
    const seen = await stranger.next();
    assert.equal(seen.closed, 4400, 'the stranger gets 4400 and nothing else');
  }
  const messages = await ask(conn, session, 'm1', 'where are you located');
  assert.equal(messages.at(-1).type, 'reply');
  assert.equal(conn.closed, null, 'the patient was not displaced');
  // A connection from another site's page is not even upgraded.
  await assert.rejects(connect(server.chatOrigin, sid, { headers: { origin: 'https://evil.example' } }));
  silent.close();
  conn.close();
});

test('a captured frame replayed on a new connection is refused and the session carries on', async () => {
  const { session, conn } = await patient(server.chatOrigin, pinned, {
    headers: { 'x-forwarded-for': '203.0.113.61' },
  });
  const captured = await session.seal({ type: 'say', id: 'm1', text: 'is there parking' });
  conn.send(captured);
  assert.equal((await recv(conn, session)).type, 'reply');
  const replay = await connect(server.chatOrigin, session.sidText);
  replay.send(captured);
  assert.equal((await replay.next()).closed, 4400);
  const messages = await ask(conn, session, 'm2', 'what insurance do you take');
  assert.equal(messages.at(-1).type, 'reply');
  // And a real reconnect resumes it.
  conn.close();
  const again = await open(server.chatOrigin, session);
  assert.equal((await ask(again, session, 'm3', 'what are your hours')).at(-1).type, 'reply');
  again.close();
});

test('verification cannot be used to learn who is a patient, and is limited per session', async () => {
  const { session, conn } = await patient(server.chatOrigin, pinned, {
    headers: { 'x-forwarded-for': '203.0.113.70' },
  });
  const identities = [
    'Morgan Sample, born 03/02/1984',
    'Jordan Nobody, born 01/01/1990',
    'Casey Stranger, born 12/12/1975',
    'Riley Unknown, born 05/06/1988',
    'Avery Missing, born 07/08/1969',
  ];
  const answers = [];
  // New details while a code is awaited start verification again with them.
  await ask(conn, session, 'a0', 'when is my next appointment');
  for (const [n, details] of identities.entries()) {
    answers.push((await ask(conn, session, `d${n}`, details)).at(-1));
  }
  assert.ok(answers.every((r) => r.type === 'reply'), JSON.stringify(answers));
  // The real patient and the strangers get the same words (no digits of a
  // phone number, nothing that differs), until the limit says stop.
  const texts = answers.map((r) => r.text);
  for (const text of texts) assert.doesNotMatch(text, /ending in \d|termina en \d/i);
  if (process.env.SHOW) console.log(texts);
  const first = texts[0];
  assert.equal(texts[1], first, 'a stranger is told what the patient is told');
  assert.ok(texts.slice(2).some((t) => t !== first), 'verification starts in one session are limited');
  conn.close();
});

test('a burst of messages in one session is slowed, and a crisis in the burst still gets guidance', async () => {
  const { session, conn } = await patient(server.chatOrigin, pinned, {
    headers: { 'x-forwarded-for': '203.0.113.80' },
  });
  const codes = [];
  for (let i = 0; i < 14; i += 1) {
    const reply = (await ask(conn, session, `b${i}`, 'what are your hours')).at(-1);
    codes.push(reply.type === 'reply' ? 'reply' : reply.code);
  }
  assert.ok(codes.includes('rate_limited'), codes.join(','));
  assert.ok(codes.filter((c) => c === 'reply').length <= 8, codes.join(','));
  const crisis = (await ask(conn, session, 'c1', 'I took all my pills and want to die')).at(-1);
  assert.equal(crisis.type, 'reply');
  assert.equal(crisis.intent, 'safety.crisis');
  assert.match(crisis.text, /988|911/);
  conn.close();
  // Another patient is untouched by it.
  await served('203.0.113.81');
});

test('nothing the attacks sent, and no patient detail, reached the server log', async () => {
  const logs = server.logs.join('');
  for (const secret of ['Morgan', 'Sample', '03/02/1984', 'pills', 'parking', 'x'.repeat(100)]) {
    assert.ok(!logs.includes(secret), `the log holds ${secret.slice(0, 12)}`);
  }
  // The development outbox is where demo codes go; nothing else holds them.
  const outbox = path.join(server.dataDir, 'dev-outbox.jsonl');
  if (fs.existsSync(outbox)) assert.ok(fs.statSync(outbox).size < 64 * 1024);
});
