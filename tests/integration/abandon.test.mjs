// An abandoned long poll must not swallow the next record (issue 12, item 3).
//
// Neither web server tells a FastCGI responder that a client closed its connection while
// a request waits for its answer: Apache's mod_proxy_fcgi watches only the backend socket;
// lighttpd 1.4.69 takes the client's FIN for a half-close, and while a request waits for
// the backend's headers it does not even watch for it ("tcp-fin-propagate" passed the FIN
// on in 4 of 15 tries). Both then write the answer into a dead socket, after the
// responder has deleted what it carried. So before a held poll takes records, the
// responder asks the kernel (sock_diag, common/tcpdiag.c; POLLHUB_CLIENT_CHECK=1, the
// default) whether the client's TCP connection to the web server is in CLOSE_WAIT; if so
// the records stay in the tables and the connection's next poll takes them.
//
// A raw long-polling client holds a poll, then goes away (its TCP connection to the web
// server is destroyed, as a browser tab closing or a proxy cutting idle connections does);
// a member of its group commits a push; the same connection polls again: the push
// arrives, once. Beside it, clients that stayed get the push in their held poll and not
// again in the next one.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { startStack, connect, stopAll, sleep, RS, transportName } from './stack.mjs';

const agent = new http.Agent({ keepAlive: false });

function request(port, path, { method = 'GET', body } = {}) {
	let req;
	const done = new Promise((resolve, reject) => {
		req = http.request({ host: '127.0.0.1', port, path, method, agent }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
			res.on('error', reject);
		});
		req.on('error', reject);
		if (body !== undefined) req.write(body);
		req.end();
	});
	return { req, done };
}

const meeting = (title) => ({
	ID: null, Title: title, Start: '2026-12-03T10:00:00.000Z', End: '2026-12-03T10:30:00.000Z',
	IsAllDay: false, RoomID: 1, Attendees: [1], Description: '', RecurrenceRule: '', RecurrenceID: null,
	RecurrenceException: '', StartTimezone: '', EndTimezone: '',
});

async function rawConnection(port, hubPath) {
	const neg = JSON.parse((await request(port, `${hubPath}/negotiate?negotiateVersion=1`, { method: 'POST', body: '' }).done).body);
	const token = encodeURIComponent(neg.connectionToken);
	assert.equal((await request(port, `${hubPath}?id=${token}`).done).status, 200);
	assert.equal((await request(port, `${hubPath}?id=${token}`, { method: 'POST', body: `{"protocol":"json","version":1}${RS}` }).done).status, 200);
	assert.equal((await request(port, `${hubPath}?id=${token}`).done).body, `{}${RS}`);
	return token;
}

const pushesOf = (body, title) => body.split(RS).filter(Boolean).map((r) => JSON.parse(r))
	.filter((r) => r.type === 1 && r.target === 'create' && r.arguments?.[0]?.Title === title).length;

function logTail(stack) {
	return fs.readFileSync(`${stack.runDir}/pollhub.log`, 'utf8').split('\n').slice(-25).join('\n');
}

// A member of the group (a real client) creates a meeting: a push to everyone else.
async function createAs(stack, title) {
	const writer = await connect(stack.hubUrl);
	try {
		await writer.invoke('create', meeting(title));
	} finally {
		await stopAll(writer);
	}
}

// Abandon a held poll, commit a push, poll again, three times.
async function abandonRounds(stack, tag) {
	const { port } = stack;
	const hubPath = new URL(stack.hubUrl).pathname;
	const token = await rawConnection(port, hubPath);
	const writer = await connect(stack.hubUrl);
	try {
		for (let round = 0; round < 3; round++) {
			// Hold a poll, then go away without reading it.
			const held = request(port, `${hubPath}?id=${token}`);
			held.done.catch(() => {});
			await sleep(300);
			held.req.destroy();
			await sleep(300);
			const title = `${tag} after abandon ${round}`;
			await writer.invoke('create', meeting(title));
			await sleep(200);
			const next = await request(port, `${hubPath}?id=${token}`).done;
			assert.equal(next.status, 200);
			assert.equal(pushesOf(next.body, title), 1, `round ${round}: the push after an abandoned poll arrives once (got ${JSON.stringify(next.body)})\n${logTail(stack)}`);
		}
	} finally {
		await stopAll(writer);
	}
}

const longPollingOnly = transportName !== 'LongPolling' && 'raw long polling: runs in the LongPolling run of each web server';

describe('an abandoned long poll keeps its records for the next poll', { skip: longPollingOnly }, () => {
	let stack;
	before(async () => { stack = await startStack({ env: { POLLHUB_LOG_LEVEL: 'debug', POLLHUB_POLL_TIMEOUT: '5' } }); });
	after(async () => { await stack?.stop(); });

	it('abandon a held poll, commit a push, poll again: the push arrives once', async () => {
		await abandonRounds(stack, 'default');
		assert.match(fs.readFileSync(`${stack.runDir}/pollhub.log`, 'utf8'),
			/client closed its connection during a held poll/, 'the responder says it saw the client go');
	});

	it('a poll held across a restart in place is still checked: abandon it after the SIGHUP, the push arrives once', async () => {
		const { port } = stack;
		const hubPath = new URL(stack.hubUrl).pathname;
		const token = await rawConnection(port, hubPath);
		const held = request(port, `${hubPath}?id=${token}`);
		held.done.catch(() => {});
		await sleep(300);
		await stack.reloadResponder(0);
		assert.match(fs.readFileSync(`${stack.runDir}/pollhub.log`, 'utf8'), /held poll resumed/, 'the poll went to the new image');
		held.req.destroy();
		await sleep(300);
		const title = 'after a restart and an abandon';
		await createAs(stack, title);
		await sleep(200);
		const next = await request(port, `${hubPath}?id=${token}`).done;
		assert.equal(pushesOf(next.body, title), 1, `got ${JSON.stringify(next.body)}\n${logTail(stack)}`);
	});

	it('30 of 60 clients abandon their polls: each gets the push once, in the poll it holds or in the next', async () => {
		const { port } = stack;
		const hubPath = new URL(stack.hubUrl).pathname;
		const tokens = [];
		for (let i = 0; i < 60; i++) tokens.push(await rawConnection(port, hubPath));
		const held = tokens.map((t) => request(port, `${hubPath}?id=${t}`));
		held.forEach((h) => h.done.catch(() => {}));
		await sleep(500);
		for (let i = 0; i < 30; i++) held[i].req.destroy();
		await sleep(300);
		const title = 'crowd after abandon';
		await createAs(stack, title);
		const stayed = await Promise.all(held.slice(30).map((h) => h.done));
		stayed.forEach((r, i) => assert.equal(pushesOf(r.body, title), 1, `client ${30 + i} stayed: the push in its held poll`));
		// Everyone polls again: the ones that left get it now, the others not twice.
		const next = await Promise.all(tokens.map((t) => request(port, `${hubPath}?id=${t}`).done));
		next.forEach((r, i) => {
			assert.equal(r.status, 200);
			assert.equal(pushesOf(r.body, title), i < 30 ? 1 : 0,
				`client ${i} (${i < 30 ? 'left' : 'stayed'}): ${JSON.stringify(r.body)}\n${logTail(stack)}`);
		});
	});
});
