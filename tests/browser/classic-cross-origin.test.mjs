// The seed's classic client on a page of another origin than the hub (its own little web
// server on another port), with an absolute hubUrl: start({ jsonp: true }) then sends every
// request as a <script> GET (messageId in the query), and other transports use CORS. With
// the page's origin in POLLHUB_ALLOWED_ORIGINS it works both ways with a Core client of its
// group; a page of an origin not listed cannot even negotiate (its JSONP is refused: the
// browser's Sec-Fetch-Site and the page's Referer say who asks).
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startStack, connect, stopAll, waitFor } from '../integration/stack.mjs';
import { launchBrowser, makeDocroot, openWindow, steps, transports } from './browser.mjs';

const modes = { LongPolling: ['jsonp', 'longPolling'], ServerSentEvents: ['serverSentEvents', 'serverSentEvents'] };
const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

/** A static server for dir on 127.0.0.1 (another origin than the hub's): { url, close }. */
function pageServer(dir) {
	const server = http.createServer((req, res) => {
		const file = path.join(dir, decodeURIComponent(new URL(req.url, 'http://x').pathname));
		if (!file.startsWith(dir) || !fs.existsSync(file)) {
			res.writeHead(404).end();
			return;
		}
		res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' });
		fs.createReadStream(file).pipe(res);
	});
	return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
		url: `http://127.0.0.1:${server.address().port}`,
		close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
	})));
}

const meeting = (title) => ({
	ID: null, Title: title, Start: '2026-12-15T09:00:00.000Z', End: '2026-12-15T10:00:00.000Z', IsAllDay: false,
});

for (const transport of transports) {
	const [mode, expected] = modes[transport];
	describe(`classic jquery.signalR on another origin, start ${mode}, over ${transport}`, { timeout: 60000 }, () => {
		let docroot;
		let pages;
		let stranger;
		let stack;
		let browser;
		let page;
		let core;

		before(async () => {
			docroot = makeDocroot(['classic.html', 'classic.js'], ['jquery', 'signalr']);
			pages = await pageServer(docroot.dir);
			stranger = await pageServer(docroot.dir);
			stack = await startStack({ docroot: docroot.dir, env: { POLLHUB_POLL_TIMEOUT: '20', POLLHUB_ALLOWED_ORIGINS: pages.url } });
			browser = await launchBrowser();
		});
		after(async () => {
			await stopAll(core);
			await browser?.close();
			await stack?.stop();
			await pages?.close();
			await stranger?.close();
			docroot?.remove();
		});
		const test = steps(() => stack, transport);

		test('a listed origin\'s page starts; under JSONP every hub request is a GET', async () => {
			page = await openWindow(browser, `${pages.url}/classic.html?start=${mode}&hub=${encodeURIComponent(stack.hubUrl)}`);
			const methods = [];
			page.on('request', (req) => { if (req.url().startsWith(stack.hubUrl)) methods.push(`${req.method()} ${new URL(req.url()).pathname}`); });
			await page.waitForFunction(() => harness.ready || harness.startError, null, { timeout: 15000 });
			assert.equal(await page.evaluate(() => harness.startError), null);
			assert.equal(await page.evaluate(() => harness.ready), expected);
			core = await connect(stack.hubUrl);
			const made = await core.invoke('create', meeting('Core, for the other origin'));
			await page.waitForFunction((id) => harness.seen('create', id) === 1, made.ID, { timeout: 5000 });
			if (mode === 'jsonp') {
				// The poll after the push, at least, was seen: as a GET, like every other.
				await waitFor(() => methods.some((m) => m === 'GET /meetings/poll'), 5000, `a GET poll (${methods.join(', ')})`);
				assert.deepEqual(methods.filter((m) => !m.startsWith('GET ')), [], 'cross-origin JSONP: GETs only');
			}
		});

		test('its invocations reach the Core client of its group', async () => {
			const row = await page.evaluate((m) => harness.invoke('create', m), meeting('From the other origin'));
			await waitFor(() => core.pushes.payloads('create').some((m) => m.ID === row.ID), 5000, 'the push at the Core client');
			assert.deepEqual((await page.evaluate(() => harness.invoke('read'))).map((m) => m.ID).sort(),
				(await core.invoke('read')).map((m) => m.ID).sort());
			assert.deepEqual(await page.evaluate(() => harness.errors), []);
			assert.deepEqual(page.problems, []);
		});

		test('a page of an origin not listed cannot start', async () => {
			const other = await openWindow(browser, `${stranger.url}/classic.html?start=${mode}&hub=${encodeURIComponent(stack.hubUrl)}`);
			await other.waitForFunction(() => harness.ready || harness.startError, null, { timeout: 15000 });
			assert.equal(await other.evaluate(() => harness.ready), null);
			assert.notEqual(await other.evaluate(() => harness.startError), null);
			assert.equal(await stack.psql(`SELECT count(*) FROM pollhub.connections WHERE transport LIKE 'Classic%'`), '1',
				'only the listed page\'s connection');
			await other.context().close();
		});
	});
}
