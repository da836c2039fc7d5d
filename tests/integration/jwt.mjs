// JSON Web Tokens for the tests, made with node's own crypto (no JWT library: what the
// hub must refuse is built here byte by byte). Key pairs: RSA 2048 (RS256), EC P-256
// (ES256) and an HS256 secret; tokens signed with any of them; and the hostile tokens a
// verifier must refuse (forged signature, another key, alg none, HS256 keyed with the RSA
// public key's PEM, expired, not yet valid, wrong audience, wrong issuer, an altered
// payload, no exp).
//
//   const keys = makeKeys();                     // { rsa, ec, secret, otherRsa, otherEc }
//   fs.writeFileSync(file, keys.publicPems());   // for POLLHUB_JWT_KEYS
//   const t = keys.token({ sub: 'alice' });      // RS256, aud/iss/exp defaults below
//   for (const { name, token } of keys.hostile('alice')) ...
//
// Also a command for scripts (tests/bench/run.sh):
//   node tests/integration/jwt.mjs keys DIR           writes DIR/rsa.key, DIR/public.pem
//   node tests/integration/jwt.mjs token DIR SUB [AUD [ISS [TTL]]]   prints an RS256 token
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const AUDIENCE = 'pollhub-test';
export const ISSUER = 'test-issuer';

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const enc = (obj) => b64url(JSON.stringify(obj));
export const now = () => Math.floor(Date.now() / 1000);

/** The JWS signature of `${header}.${payload}` (both already encoded) for alg with key. */
export function signature(alg, key, signingInput) {
	switch (alg) {
	case 'RS256':
		return crypto.sign('sha256', Buffer.from(signingInput), key);
	case 'ES256':
		// JWS wants r || s (64 bytes), not DER.
		return crypto.sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
	case 'HS256':
		return crypto.createHmac('sha256', key).update(signingInput).digest();
	case 'none':
		return Buffer.alloc(0);
	default:
		throw new Error(`jwt.mjs: unknown alg ${alg}`);
	}
}

/** A compact JWS: header (alg and typ added unless given) and claims signed with key. */
export function sign(alg, key, claims, header = {}) {
	const input = `${enc({ alg, typ: 'JWT', ...header })}.${enc(claims)}`;
	return `${input}.${b64url(signature(alg, key, input))}`;
}

/** The standard claims of a valid token for sub: aud, iss, iat, nbf, exp (an hour). */
export function claims(sub, over = {}) {
	const t = now();
	return { sub, aud: AUDIENCE, iss: ISSUER, iat: t, nbf: t - 5, exp: t + 3600, ...over };
}

/** The payload of a compact token, decoded (no verification). */
export const payloadOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());

function rsaPair() {
	return crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
}
function ecPair() {
	return crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
}
const pem = (publicKey) => publicKey.export({ type: 'spki', format: 'pem' });

/**
 * Fresh keys: rsa and ec (the configured ones: publicPems() is their PEM file), secret
 * (HS256, 32 random bytes as base64url text: the file's content), otherRsa and otherEc
 * (never configured).
 */
export function makeKeys() {
	const rsa = rsaPair();
	const ec = ecPair();
	const otherRsa = rsaPair();
	const otherEc = ecPair();
	const secret = crypto.randomBytes(32).toString('base64url');
	const keys = {
		rsa, ec, otherRsa, otherEc, secret,
		rsaPem: pem(rsa.publicKey),
		ecPem: pem(ec.publicKey),
		/** The PEM file of the configured public keys (RSA then EC). */
		publicPems: () => keys.rsaPem + keys.ecPem,
		/** A valid token for sub: alg RS256 (default), ES256 or HS256; claims over the defaults. */
		token(sub, over = {}, alg = 'RS256') {
			const key = alg === 'RS256' ? rsa.privateKey : alg === 'ES256' ? ec.privateKey : secret;
			return sign(alg, key, claims(sub, over));
		},
		/** Tokens for sub that a verifier must refuse, each { name, token }. */
		hostile(sub) {
			const good = keys.token(sub);
			const [h, p] = good.split('.');
			const t = now();
			const list = [
				// The header and claims of a good token, the signature random bytes of the right length.
				['forged signature', `${h}.${p}.${b64url(crypto.randomBytes(256))}`],
				// Well formed, signed with keys the hub does not know.
				['another RSA key', sign('RS256', otherRsa.privateKey, claims(sub))],
				['another EC key', sign('ES256', otherEc.privateKey, claims(sub))],
				// The header decides nothing: unsigned, or "signed" with the public key as an HMAC secret.
				['alg none', sign('none', null, claims(sub))],
				['alg none, upper case', sign('none', null, claims(sub), { alg: 'NONE' })],
				['alg none with the good signature', `${enc({ alg: 'none', typ: 'JWT' })}.${p}.${good.split('.')[2]}`],
				['HS256 keyed with the RSA public key PEM', sign('HS256', keys.rsaPem, claims(sub))],
				['HS256 keyed with the EC public key PEM', sign('HS256', keys.ecPem, claims(sub))],
				// An RS256 signature under a header that names ES256 (and the reverse).
				['RS256 signature, header ES256', (() => {
					const input = `${enc({ alg: 'ES256', typ: 'JWT' })}.${enc(claims(sub))}`;
					return `${input}.${b64url(signature('RS256', rsa.privateKey, input))}`;
				})()],
				// Claims: well past the leeway the stacks configure.
				['expired', keys.token(sub, { exp: t - 600, iat: t - 4000, nbf: t - 4000 })],
				['not yet valid (nbf)', keys.token(sub, { nbf: t + 600 })],
				['wrong audience', keys.token(sub, { aud: 'another-service' })],
				['wrong audience (array)', keys.token(sub, { aud: ['another-service', 'a-third'] })],
				['wrong issuer', keys.token(sub, { iss: 'https://evil.example' })],
				['no exp', sign('RS256', rsa.privateKey, (() => { const c = claims(sub); delete c.exp; return c; })())],
				['no user claim', sign('RS256', rsa.privateKey, (() => { const c = claims(sub); delete c.sub; return c; })())],
				// A good token whose claims were changed after signing (another user, a later exp).
				['altered payload (sub)', `${h}.${enc({ ...payloadOf(good), sub: `${sub}-admin` })}.${good.split('.')[2]}`],
				['altered payload (exp)', `${h}.${enc({ ...payloadOf(good), exp: t + 86400 * 365 })}.${good.split('.')[2]}`],
				// Not a JWT at all.
				['three dots of nothing', '..'],
				['garbage', 'not-a-token'],
			];
			return list.map(([name, token]) => ({ name, token }));
		},
	};
	return keys;
}

/** base64url_nopad(SHA-256(user || 0x00 || token)): connections.token (see common/ids.h). */
export function tokenKey(user, token) {
	return crypto.createHash('sha256').update(Buffer.concat([Buffer.from(user), Buffer.from([0]),
		Buffer.from(token)])).digest('base64url');
}

// Command line, for scripts.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const [cmd, dir, sub, aud = AUDIENCE, iss = ISSUER, ttl = '3600'] = process.argv.slice(2);
	if (cmd === 'keys' && dir) {
		const { privateKey, publicKey } = rsaPair();
		fs.writeFileSync(path.join(dir, 'rsa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
		fs.writeFileSync(path.join(dir, 'public.pem'), pem(publicKey));
	} else if (cmd === 'token' && dir && sub) {
		const key = crypto.createPrivateKey(fs.readFileSync(path.join(dir, 'rsa.key')));
		process.stdout.write(sign('RS256', key, claims(sub, { aud, iss, exp: now() + Number(ttl) })) + '\n');
	} else {
		console.error('usage: node jwt.mjs keys DIR | token DIR SUB [AUD [ISS [TTL]]]');
		process.exit(2);
	}
}
