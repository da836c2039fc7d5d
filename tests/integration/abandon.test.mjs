// An abandoned long poll must not swallow the next record (issue 12, item 3).
//
// KNOWN GAP, so this runs as a todo (reported, not failing the suite): neither lighttpd
// 1.4.69 nor Apache's mod_proxy_fcgi tells the responder that a client closed its
// connection while a request waits for its answer. lighttpd takes the client's FIN for a
// half-close (connections.c: "does not distinguish between client shutdown(fd, SHUT_WR)
// and client close(fd)") and keeps the request; it notices only when it writes the answer,
// after the responder has handed it over and deleted it. The event loop does end a held
// request the moment the web server closes the FastCGI connection or sends
// FCGI_ABORT_REQUEST, but that never comes here. Keeping an answered batch until the
// next poll would send it twice to every client that did get it: the protocol carries no
// acknowledgement. See docs/SECURITY.md.
//
// A raw long-polling client holds a poll, then goes away (its TCP connection to the web
// server is destroyed, as a browser tab closing or a proxy cutting idle connections does);
// a member of its group commits a push; the same connection polls again: the push
// arrives, once. The held request belongs to the responder's event loop, which notices
// the web server closing the FastCGI connection (or aborting the request) and leaves the
// records in the tables instead of writing them into a dead socket.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { startStack, connect, stopAll, sleep, waitFor, RS, transportName } from './stack.mjs';

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

describe('an abandoned long poll keeps its records for the next poll', { skip: transportName !== 'LongPolling' && 'raw long polling: runs in the LongPolling run of each web server' }, () => {
	let stack;
	before(async () => { stack = await startStack({ env: { POLLHUB_LOG_LEVEL: 'debug', POLLHUB_POLL_TIMEOUT: '5' } }); });
	after(async () => { await stack?.stop(); });

	it('abandon a held poll, commit a push, poll again: the push arrives once', { todo: 'the web servers do not report a client that left a held poll (see the top of this file)' }, async () => {
		const { port } = stack;
		const hubPath = new URL(stack.hubUrl).pathname;
		const neg = JSON.parse((await request(port, `${hubPath}/negotiate?negotiateVersion=1`, { method: 'POST', body: '' }).done).body);
		const token = encodeURIComponent(neg.connectionToken);
		assert.equal((await request(port, `${hubPath}?id=${token}`).done).status, 200);
		assert.equal((await request(port, `${hubPath}?id=${token}`, { method: 'POST', body: `{"protocol":"json","version":1}${RS}` }).done).status, 200);
		assert.equal((await request(port, `${hubPath}?id=${token}`).done).body, `{}${RS}`);

		const writer = await connect(stack.hubUrl);
		try {
			for (let round = 0; round < 3; round++) {
				// Hold a poll, then go away without reading it.
				const held = request(port, `${hubPath}?id=${token}`);
				held.done.catch(() => {});
				await sleep(300);
				held.req.destroy();
				// The web server sees the client go and closes (or aborts) the FastCGI
				// request; the responder must notice before the push comes.
				await sleep(500);
				const title = `after abandon ${round}`;
				await writer.invoke('create', meeting(title));
				await sleep(200);
				const next = await request(port, `${hubPath}?id=${token}`).done;
				assert.equal(next.status, 200);
				const recs = next.body.split(RS).filter(Boolean).map((r) => JSON.parse(r));
				const pushes = recs.filter((r) => r.type === 1 && r.target === 'create' &&
					r.arguments?.[0]?.Title === title);
				assert.equal(pushes.length, 1, `round ${round}: the push after an abandoned poll arrives once (got ${JSON.stringify(next.body)})\n` +
					fs.readFileSync(`${stack.runDir}/pollhub.log`, 'utf8').split('\n').slice(-25).join('\n'));
			}
		} finally {
			await stopAll(writer);
		}
	});
});
