// An independent client of protocol version 1 (docs/PROTOCOL.md), written
// from the document with Node's WebCrypto, sharing no code with the Rust
// `protocol` crate. The attack suite drives the real server with it, as an
// outside client would: it can handshake, seal and open frames, and also
// send whatever bytes an attacker likes.

import { webcrypto as crypto } from 'node:crypto';
import WebSocket from 'ws';

const subtle = crypto.subtle;
const enc = new TextEncoder();
const dec = new TextDecoder();

export const b64u = {
  encode: (bytes) => Buffer.from(bytes).toString('base64url'),
  decode: (text) => new Uint8Array(Buffer.from(text, 'base64url')),
};

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function u32(n) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

function u64(n) {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

const C2S = 1;
const S2C = 2;

/** The pinned identity key, from `GET /v1/identity` (tests trust it). */
export async function identityKey(origin) {
  const res = await fetch(`${origin}/v1/identity`);
  const { public_key: pub } = await res.json();
  return subtle.importKey('raw', b64u.decode(pub), { name: 'ECDSA', namedCurve: 'P-256' }, false, [
    'verify',
  ]);
}

/**
 * Handshakes with `origin` and returns a session, or `{status, error}` when
 * the server refuses. `headers` are added to the request (Origin,
 * X-Forwarded-For, Content-Type…).
 */
export async function handshake(origin, pinned, { headers = {} } = {}) {
  const eph = await subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
  const clientPub = new Uint8Array(await subtle.exportKey('raw', eph.publicKey));
  const clientNonce = crypto.getRandomValues(new Uint8Array(32));
  const res = await fetch(`${origin}/v1/handshake`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ v: 1, client_pub: b64u.encode(clientPub), client_nonce: b64u.encode(clientNonce) }),
  });
  if (res.status !== 200) {
    let error;
    try {
      ({ error } = await res.json());
    } catch {
      error = undefined;
    }
    return { status: res.status, error };
  }
  const hello = await res.json();
  const sid = b64u.decode(hello.sid);
  const serverPub = b64u.decode(hello.server_pub);
  const serverNonce = b64u.decode(hello.server_nonce);
  const transcript = new Uint8Array(
    await subtle.digest(
      'SHA-256',
      concat(enc.encode('carechat-v1-handshake'), new Uint8Array([0]), clientPub, clientNonce, sid, serverPub, serverNonce),
    ),
  );
  const ok = await subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, pinned, b64u.decode(hello.sig), transcript);
  if (!ok) throw new Error('the server signature does not verify');
  const peer = await subtle.importKey('raw', serverPub, { name: 'ECDH', namedCurve: 'P-256' }, false, []);
  const z = new Uint8Array(await subtle.deriveBits({ name: 'ECDH', public: peer }, eph.privateKey, 256));
  const ikm = await subtle.importKey('raw', z, 'HKDF', false, ['deriveBits']);
  const expand = async (info) =>
    subtle.importKey(
      'raw',
      await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: transcript, info: enc.encode(info) }, ikm, 256),
      'AES-GCM',
      false,
      ['encrypt', 'decrypt'],
    );
  return new Session(sid, hello.sid, await expand('carechat-v1 c2s'), await expand('carechat-v1 s2c'));
}

function aad(sid, dir, seq) {
  return concat(enc.encode('carechat-v1'), sid, u32(dir), u64(seq));
}

export class Session {
  constructor(sid, sidText, c2s, s2c) {
    this.sid = sid;
    this.sidText = sidText;
    this.c2s = c2s;
    this.s2c = s2c;
    this.nextSeq = 0;
    this.lastReceived = null;
  }

  /** Seals a message into frame text (and keeps the frame for replays). */
  async seal(message, seq = this.nextSeq) {
    const iv = concat(u32(C2S), u64(seq));
    const ct = new Uint8Array(
      await subtle.encrypt(
        { name: 'AES-GCM', iv, additionalData: aad(this.sid, C2S, seq) },
        this.c2s,
        enc.encode(JSON.stringify(message)),
      ),
    );
    this.nextSeq = Math.max(this.nextSeq, seq + 1);
    return JSON.stringify({ seq, ct: b64u.encode(ct) });
  }

  /** Opens a server frame; throws on anything that does not verify. */
  async open(text) {
    const { seq, ct } = JSON.parse(text);
    const iv = concat(u32(S2C), u64(seq));
    const plain = await subtle.decrypt(
      { name: 'AES-GCM', iv, additionalData: aad(this.sid, S2C, seq) },
      this.s2c,
      b64u.decode(ct),
    );
    this.lastReceived = seq;
    return JSON.parse(dec.decode(plain));
  }
}

/** A WebSocket for `sid` with a queue of what arrives. */
export async function connect(origin, sidText, { headers } = {}) {
  const url = `${origin.replace(/^http/, 'ws')}/v1/ws?sid=${sidText}`;
  const ws = new WebSocket(url, { headers: headers ?? {}, maxPayload: 1 << 20 });
  const queue = [];
  const waiters = [];
  let closed = null;
  const push = (item) => {
    const w = waiters.shift();
    if (w) w(item);
    else queue.push(item);
  };
  ws.addEventListener('message', (e) => push({ data: e.data.toString() }));
  ws.addEventListener('close', (e) => {
    closed = e.code;
    push({ closed: e.code });
  });
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true });
    ws.addEventListener('error', () => reject(new Error('WebSocket refused')), { once: true });
  });
  return {
    ws,
    send: (text) => ws.send(text),
    get closed() {
      return closed;
    },
    /** The next frame text or `{closed}`, within `ms`. */
    next(ms = 10000) {
      if (queue.length) return Promise.resolve(queue.shift());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('nothing from the server')), ms);
        waiters.push((item) => {
          clearTimeout(timer);
          resolve(item);
        });
      });
    },
    close: () => ws.close(),
  };
}

/** Connects, syncs and returns `{conn, messages}` (the messages after sync). */
export async function open(origin, session) {
  const conn = await connect(origin, session.sidText);
  conn.send(await session.seal({ type: 'sync', last_seq_received: session.lastReceived }));
  const first = await conn.next();
  if (first.closed) throw new Error(`closed ${first.closed}`);
  const sync = await session.open(first.data);
  if (sync.type !== 'sync') throw new Error(`expected sync, got ${sync.type}`);
  return conn;
}

/** The next server message on `conn`, opened. */
export async function recv(conn, session, ms) {
  const item = await conn.next(ms);
  if (item.closed) throw new Error(`closed ${item.closed}`);
  return session.open(item.data);
}

/** A new patient: handshake, connect, welcome, consent. */
export async function patient(origin, pinned, options) {
  const session = await handshake(origin, pinned, options);
  if (!(session instanceof Session)) throw new Error(`handshake refused: ${JSON.stringify(session)}`);
  const conn = await open(origin, session);
  const welcome = await recv(conn, session);
  if (welcome.type !== 'welcome') throw new Error(`expected welcome, got ${welcome.type}`);
  conn.send(await session.seal({ type: 'consent', accepted: true, policy_version: welcome.policy_version }));
  const notice = await recv(conn, session);
  if (notice.code !== 'consent_accepted') throw new Error(`consent: ${JSON.stringify(notice)}`);
  return { session, conn };
}

/** Says `text` and returns every message up to and including the reply. */
export async function ask(conn, session, id, text) {
  conn.send(await session.seal({ type: 'say', id, text }));
  const seen = [];
  for (;;) {
    const m = await recv(conn, session);
    seen.push(m);
    if (m.type === 'reply' || m.type === 'error') return seen;
  }
}
