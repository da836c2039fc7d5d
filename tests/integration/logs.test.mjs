// The responder's log cannot be forged, and request headers are data (issue 12 items 1
// and 4): client text with CR/LF, ESC, BEL, C1 controls, U+2028/2029 and bidi controls
// in protocol names, method names, group names, paths and User-Agent headers reaches
// the log escaped (one line per event, no line pollhub did not write), and a header
// value that is not UTF-8, or is very long, is stored escaped and capped instead of
// making both negotiates fail with a "query failed" error line on every try.
// Raw requests go over net.connect so that the header bytes are exactly the test's.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startStack, waitFor, RS } from './stack.mjs';

const FORGED = '2026-12-01T00:00:00Z pollhub[error] FORGED LINE';
const CD = encodeURIComponent(JSON.stringify([{ name: 'meetings' }]));
const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z pollhub\[(error|warn|info|debug)\] /;

/** One raw HTTP/1.1 request (head given as a Buffer or latin1 string); resolves
 * { status, headers, body } once the server closes the connection. */
function rawRequest(port, head, body = Buffer.alloc(0)) {
	return new Promise((resolve, reject) => {
		const s = net.connect({ port, host: '127.0.0.1' });
		const chunks = [];
		s.setTimeout(20000, () => s.destroy(new Error('raw request timed out')));
		s.on('data', (d) => chunks.push(d));
		s.on('error', (e) => (chunks.length ? null : reject(e)));
		s.on('close', () => {
			const all = Buffer.concat(chunks).toString('latin1');
			const m = /^HTTP\/1\.[01] (\d{3})/.exec(all);
			if (!m) return reject(new Error(`no HTTP answer: ${JSON.stringify(all.slice(0, 200))}`));
			const split = all.indexOf('\r\n\r\n');
			let text = split >= 0 ? all.slice(split + 4) : '';
			if (/\r\ntransfer-encoding: *chunked/i.test(all.slice(0, split))) {
				let out = '';
				for (let i = 0; ;) {
					const nl = text.indexOf('\r\n', i);
					const n = parseInt(text.slice(i, nl), 16);
					if (!(n > 0)) break;
					out += text.slice(nl + 2, nl + 2 + n);
					i = nl + 2 + n + 2;
				}
				text = out;
			}
			resolve({ status: Number(m[1]), head: all.slice(0, split), body: Buffer.from(text, 'latin1').toString('utf8') });
		});
		s.write(Buffer.concat([Buffer.isBuffer(head) ? head : Buffer.from(head, 'latin1'), body]));
	});
}

/** The head of a request with one User-Agent (raw bytes). */
function head(port, method, target, agent, extra = '') {
	return Buffer.concat([
		Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`, 'latin1'),
		Buffer.from('User-Agent: ', 'latin1'), agent, Buffer.from('\r\n', 'latin1'),
		Buffer.from(`${extra}${method === 'POST' ? 'Content-Length: 0\r\n' : ''}Connection: close\r\n\r\n`, 'latin1'),
	]);
}

describe('logs and headers', { timeout: 120000 }, () => {
	let stack;
	let logFile;
	before(async () => {
		stack = await startStack({
			env: { POLLHUB_GROUP_PARAM: 'group', POLLHUB_LOG_LEVEL: 'debug', POLLHUB_POLL_TIMEOUT: '3' },
		});
		logFile = path.join(stack.runDir, 'pollhub.log');
	});
	after(async () => { await stack?.stop(); });
	const test = (name, fn) => it(name, async (t) => stack.guard(fn)(t));
	const logText = () => since(0);
	// Decoded strictly: invalid UTF-8 from a client must not reach the log either.
	const since = (mark) => new TextDecoder('utf-8', { fatal: true }).decode(fs.readFileSync(logFile).subarray(mark));
	const logSize = () => fs.statSync(logFile).size;

	/** Every line is one of pollhub's, and no byte from a client survived raw. */
	const assertClean = (text, what) => {
		for (const line of text.split('\n').filter((l) => l !== ''))
			assert.match(line, LINE, `${what}: a line pollhub did not write: ${JSON.stringify(line)}`);
		assert.equal(/[\r\x1b\x07\x00\x7f\u0085\u009b\u2028\u2029\u202e\u2066]/u.test(text), false,
			`${what}: a raw control character from a client in the log`);
		assert.equal(new RegExp(`^${FORGED.replace(/[[\]]/g, '\\$&')}`, 'm').test(text), false,
			`${what}: a forged line`);
	};

	const negotiate = async (query = '?negotiateVersion=1', headers = {}) => {
		const r = await fetch(`${stack.hubUrl}/negotiate${query}`, { method: 'POST', headers });
		return { status: r.status, body: await r.text() };
	};
	const poll = async (token) => {
		const r = await fetch(`${stack.hubUrl}?id=${encodeURIComponent(token)}&_=${Date.now()}`);
		return { status: r.status, body: await r.text() };
	};
	const send = async (token, body) => {
		const r = await fetch(`${stack.hubUrl}?id=${encodeURIComponent(token)}`, {
			method: 'POST', body, headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
		});
		assert.equal(r.status, 200, `send: ${r.status}`);
	};
	/** A negotiated, first-polled long polling connection's token. */
	const fresh = async (query) => {
		const n = await negotiate(query);
		assert.equal(n.status, 200, n.body);
		const token = JSON.parse(n.body).connectionToken;
		assert.equal((await poll(token)).status, 200, 'first poll');
		return token;
	};

	test('a forged protocol name: one escaped line, no line pollhub did not write', async () => {
		const mark = logSize();
		const evil = `json\r\n${FORGED} \x1b[31mred\x1b[0m\x07 \u2028x\u2029\u0085\u202e`;
		const token = await fresh();
		await send(token, JSON.stringify({ protocol: evil, version: 1 }) + RS);
		const p = await poll(token);
		assert.equal(p.status, 200);
		// The client gets its name back, JSON-escaped, as ASP.NET Core answers.
		assert.deepEqual(JSON.parse(p.body.slice(0, -1)), { error: `The protocol '${evil}' is not supported.` });
		await waitFor(() => /handshake refused/.test(since(mark)), 5000, 'the handshake line');
		const text = since(mark);
		assertClean(text, 'protocol name');
		const lines = text.split('\n').filter((l) => l.includes('handshake refused'));
		assert.equal(lines.length, 1, `one line for one refused handshake: ${JSON.stringify(lines)}`);
		assert.ok(lines[0].includes(`json\\x0d\\x0a${FORGED} \\x1b[31mred\\x1b[0m\\x07 \\u2028x\\u2029\\u0085\\u202e`),
			`escaped as \\xNN / \\uNNNN: ${lines[0]}`);
		assert.equal(text.split('\n').filter((l) => l.includes('FORGED')).length, 1);
	});

	test('"json\\u0000garbage" and a lone surrogate: refused, the log clean', async () => {
		const mark = logSize();
		let token = await fresh();
		await send(token, `{"protocol":"json\\u0000garbage","version":1}${RS}`);
		let p = await poll(token);
		assert.deepEqual(JSON.parse(p.body.slice(0, -1)), { error: 'The protocol \'json\ufffdgarbage\' is not supported.' });
		token = await fresh();
		await send(token, `{"protocol":"\\ud800json","version":1}${RS}`);
		p = await poll(token);
		assert.deepEqual(JSON.parse(p.body.slice(0, -1)), {
			error: 'An unexpected error occurred during connection handshake. InvalidDataException: Error reading JSON.',
		});
		await waitFor(() => (since(mark).match(/handshake refused/g) || []).length === 2, 5000, 'two handshake lines');
		assertClean(since(mark), 'NUL and surrogate');
	});

	test('method names and arguments with controls: answered, the log clean', async () => {
		const mark = logSize();
		const token = await fresh();
		await send(token, `{"protocol":"json","version":1}${RS}`);
		assert.equal((await poll(token)).body, `{}${RS}`);
		const target = `read\r\n${FORGED}\x1b]0;owned\x07\u2028`;
		await send(token, JSON.stringify({ type: 1, invocationId: '1', target, arguments: [`\r\n${FORGED}`] }) + RS);
		const p = await poll(token);
		const rec = JSON.parse(p.body.slice(0, -1));
		assert.equal(rec.type, 3);
		assert.match(rec.error, /Unknown hub method|Failed to invoke/);
		// A lone surrogate in an invocation is invalid JSON: Close with error.
		await send(token, `{"type":1,"invocationId":"2","target":"read","arguments":["\\udc00${'\\r\\n'}x"]}${RS}`);
		const c = await poll(token);
		const close = JSON.parse(c.body.slice(0, -1));
		assert.equal(close.type, 7);
		assert.match(close.error, /InvalidDataException: Error reading JSON\./);
		await waitFor(() => /closing: InvalidDataException/.test(since(mark)), 5000, 'the closing line');
		assertClean(since(mark), 'method names');
	});

	test('group names with C1, separators and bidi controls are refused; odd ones log escaped', async () => {
		const mark = logSize();
		const refusal = { error: 'The group name must be 1 to 256 printable characters.' };
		for (const g of ['a\r\nb', 'a\x1b[2Jb', 'a\u0085b', 'a\u2028b', 'a\u2029b', '\u202eevil', 'x\u2066y\u2069', 'a\u200fb']) {
			const n = await negotiate(`?negotiateVersion=1&group=${encodeURIComponent(g)}`);
			// lighttpd refuses encoded C0 controls in a URL itself (url-ctrls-reject).
			if (n.status === 400 && /[\x00-\x1f]/.test(g) && stack.web === 'lighttpd') continue;
			assert.equal(n.status, 200, `negotiate ${JSON.stringify(g)}`);
			assert.deepEqual(JSON.parse(n.body), refusal, `group ${JSON.stringify(g)}`);
			const classic = await fetch(`${stack.hubUrl}/negotiate?clientProtocol=2.1&connectionData=${CD}` +
				`&group=${encodeURIComponent(g)}`);
			assert.equal(classic.status, 400, `classic negotiate ${JSON.stringify(g)}`);
		}
		// 256 characters of two bytes (512 bytes): accepted, as the database's CHECK
		// counts; 257 are refused.
		const n256 = await negotiate(`?negotiateVersion=1&group=${encodeURIComponent('é'.repeat(256))}`);
		const id = JSON.parse(n256.body).connectionId;
		assert.ok(id, n256.body);
		assert.equal(await stack.psql(`SELECT length(group_name) || ' ' || octet_length(group_name)` +
			` FROM pollhub.connections WHERE id = '${id}'`), '256 512');
		assert.deepEqual(JSON.parse((await negotiate(`?negotiateVersion=1&group=${encodeURIComponent('é'.repeat(257))}`)).body),
			refusal);
		// A valid name that looks like an escape and a log line: logged with its
		// backslash doubled, on the negotiate's one line.
		const odd = `a\\x0a ${FORGED}`;
		const n = await negotiate(`?negotiateVersion=1&group=${encodeURIComponent(odd)}`);
		assert.ok(JSON.parse(n.body).connectionId, n.body);
		await waitFor(() => since(mark).includes('a\\\\x0a 2026'), 5000, 'the negotiate line');
		assertClean(since(mark), 'group names');
	});

	test('paths and User-Agent headers with controls and invalid UTF-8: escaped in the log', async () => {
		const mark = logSize();
		const port = stack.port;
		const agent = Buffer.concat([Buffer.from('evil\x1b[31m '), Buffer.from('\u2028\u202e', 'utf8'), Buffer.from([0xfc, 0x85])]);
		const r = await rawRequest(port, head(port, 'POST', '/meetings/negotiate?negotiateVersion=1', agent));
		// The web server may refuse the ESC in a header itself (400); never a 5xx.
		assert.ok(r.status === 200 || r.status === 400, `negotiate with a hostile User-Agent: ${r.status}`);
		const agent2 = Buffer.concat([Buffer.from('ok '), Buffer.from('\u2028\u202e\u0085', 'utf8'), Buffer.from([0xfc])]);
		const r2 = await rawRequest(port, head(port, 'POST', '/meetings/negotiate?negotiateVersion=1', agent2));
		assert.equal(r2.status, 200, r2.body);
		const id = JSON.parse(r2.body).connectionId;
		assert.equal(await stack.psql(`SELECT user_agent FROM pollhub.connections WHERE id = '${id}'`),
			'ok \\u2028\\u202e\\u0085\\xfc');
		// A path with raw non-ASCII bytes and separators (the router's debug line).
		const pathBytes = Buffer.concat([Buffer.from('GET /meetings/'), Buffer.from('\u2028x\u202e', 'utf8'),
			Buffer.from([0xff]), Buffer.from(` HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`)]);
		const r3 = await rawRequest(port, pathBytes);
		assert.ok(r3.status < 500, `odd path: ${r3.status}`);
		await waitFor(() => since(mark).includes(`user agent ok \\u2028\\u202e\\u0085\\xfc`), 5000, 'the negotiate line');
		assertClean(since(mark), 'headers and paths');
	});

	test('a Latin-1 User-Agent: both negotiates 200, stored escaped, no error line', async () => {
		const mark = logSize();
		const port = stack.port;
		const agent = Buffer.from('Mozilla/5.0 (compatible; M\xfcnchen-Bot)', 'latin1');
		const stored = 'Mozilla/5.0 (compatible; M\\xfcnchen-Bot)';
		for (let i = 0; i < 3; i++) {
			const core = await rawRequest(port, head(port, 'POST', '/meetings/negotiate?negotiateVersion=1', agent));
			assert.equal(core.status, 200, `Core negotiate: ${core.status} ${core.body}`);
			const id = JSON.parse(core.body).connectionId;
			assert.equal(await stack.psql(`SELECT user_agent FROM pollhub.connections WHERE id = '${id}'`), stored);
			const classic = await rawRequest(port, head(port, 'GET',
				`/meetings/negotiate?clientProtocol=2.1&connectionData=${CD}&_=${i}`, agent));
			assert.equal(classic.status, 200, `classic negotiate: ${classic.status} ${classic.body}`);
			const cid = JSON.parse(classic.body).ConnectionId;
			assert.equal(await stack.psql(`SELECT user_agent FROM pollhub.connections WHERE id = '${cid}'`), stored);
		}
		const text = since(mark);
		assert.equal(/pollhub\[error\]|query failed/.test(text), false, `an error line: ${text}`);
		assertClean(text, 'Latin-1 User-Agent');
	});

	test('long User-Agent headers are stored capped; a 200 KB one gets no 5xx from pollhub', async () => {
		const mark = logSize();
		const port = stack.port;
		// Under the web servers' own limits (lighttpd and Apache: about 8 KB per field).
		const long = Buffer.from('L'.repeat(6000));
		const r = await rawRequest(port, head(port, 'POST', '/meetings/negotiate?negotiateVersion=1', long));
		assert.equal(r.status, 200, `6 KB User-Agent: ${r.status}`);
		const id = JSON.parse(r.body).connectionId;
		assert.equal(await stack.psql(`SELECT user_agent FROM pollhub.connections WHERE id = '${id}'`),
			`${'L'.repeat(512)}\u2026(6000 bytes)`);
		const classic = await rawRequest(port, head(port, 'GET',
			`/meetings/negotiate?clientProtocol=2.1&connectionData=${CD}`, long));
		assert.equal(classic.status, 200, `classic, 6 KB User-Agent: ${classic.status}`);
		const cid = JSON.parse(classic.body).ConnectionId;
		assert.equal(await stack.psql(`SELECT octet_length(user_agent) FROM pollhub.connections WHERE id = '${cid}'`),
			String(512 + '\u2026(6000 bytes)'.length + 2));
		// Escapes count in the cap, and a cut never splits one: 2,000 Latin-1 bytes.
		const latin = Buffer.alloc(2000, 0xe9);
		const r2 = await rawRequest(port, head(port, 'POST', '/meetings/negotiate?negotiateVersion=1', latin));
		assert.equal(r2.status, 200);
		assert.equal(await stack.psql(`SELECT user_agent FROM pollhub.connections WHERE id = '${JSON.parse(r2.body).connectionId}'`),
			`${'\\xe9'.repeat(128)}\u2026(2000 bytes)`);
		// 200 KB: the web server answers what its limits say; if it lets it through, the
		// stored value is capped all the same.
		const huge = Buffer.from('H'.repeat(200 * 1024));
		const before = Number(await stack.psql('SELECT count(*) FROM pollhub.connections'));
		const r3 = await rawRequest(port, head(port, 'POST', '/meetings/negotiate?negotiateVersion=1', huge));
		assert.ok(r3.status < 500, `200 KB User-Agent: ${r3.status}`);
		if (r3.status === 200) {
			const hid = JSON.parse(r3.body).connectionId;
			assert.equal(await stack.psql(`SELECT octet_length(user_agent) <= 600 FROM pollhub.connections WHERE id = '${hid}'`), 't');
		} else {
			assert.equal(Number(await stack.psql('SELECT count(*) FROM pollhub.connections')), before);
		}
		assertClean(since(mark), 'long headers');
	});

	test('the whole log: every line is pollhub\'s, none forged', () => {
		const text = logText();
		assertClean(text, 'pollhub.log');
		assert.match(text, /handshake refused/);
		assert.match(text, /negotiated connection /);
	});
});
