// Minimal JWT (JWS compact) signing for local tooling and tests. No dependencies.
//
//   signJwt({ sub: 'd1', role: 'driver', exp }, secret)            -> HS256 token
//   signJwt(claims, secret, { alg: 'HS512' })                     -> really signed with HMAC-SHA512
//   signJwt(claims, secret, { alg: 'none' })                      -> unsigned token ("h.p.")
//   signJwt(claims, secret, { header: { alg: 'HS512' } })         -> HS256 signature, lying header
//
// Tests use it to make deliberately bad tokens; scripts/token uses it for real ones.
import { createHmac } from 'node:crypto';

const HMAC = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

export function base64url(input) {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(typeof input === 'string' ? input : JSON.stringify(input));
  return buf.toString('base64url');
}

/**
 * @param {object} claims  JWT payload (sub, role, exp, ...), serialised as given
 * @param {string|Buffer} secret  HMAC key (ignored for alg "none")
 * @param {{alg?: string, header?: object}} [opts]
 *   alg: HS256 (default) | HS384 | HS512 | none; decides how the token is signed and the default header.alg
 *   header: fields merged over {alg, typ: 'JWT'} (e.g. to lie about alg, or to add kid)
 */
export function signJwt(claims, secret, { alg = 'HS256', header = {} } = {}) {
  const fullHeader = { alg, typ: 'JWT', ...header };
  const signingInput = `${base64url(JSON.stringify(fullHeader))}.${base64url(JSON.stringify(claims))}`;
  if (alg === 'none') return `${signingInput}.`;
  const hash = HMAC[alg];
  if (!hash) throw new Error(`signJwt: unsupported alg ${alg} (use HS256, HS384, HS512 or none)`);
  if (secret === undefined || secret === null || secret === '') throw new Error('signJwt: empty secret');
  const sig = createHmac(hash, secret).update(signingInput).digest();
  return `${signingInput}.${base64url(sig)}`;
}

/** Decodes header and payload without verifying anything (for assertions and debugging). */
export function decodeJwt(token) {
  const [h, p] = String(token).split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
  };
}

/** Seconds since the epoch, as JWT time claims use. */
export function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

/**
 * Reads KEY=value pairs from a .dev.vars / .env style text. Supports `export KEY=...`,
 * double-quoted values (with \n, \", \\ escapes), single-quoted values, and trailing
 * ` # comments` on unquoted values.
 */
export function parseDotVars(text) {
  const out = {};
  for (const raw of String(text).split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    if (value.startsWith('"')) {
      const end = value.lastIndexOf('"');
      value = value.slice(1, end > 0 ? end : undefined)
        .replace(/\\(["\\n])/g, (_, c) => (c === 'n' ? '\n' : c));
    } else if (value.startsWith("'")) {
      const end = value.lastIndexOf("'");
      value = value.slice(1, end > 0 ? end : undefined);
    } else {
      value = value.replace(/\s+#.*$/, '').trim();
    }
    out[m[1]] = value;
  }
  return out;
}
