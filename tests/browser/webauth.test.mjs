// The demo page (deploy/www, the Kendo calendar) behind HTTP basic authentication in the
// web server (POLLHUB_AUTH=web-server, the site as `make run` serves it with POLLHUB_HTPASSWD):
// a browser without credentials gets 401; two people's browsers, each with its own user,
// load the page (the browser asks once, for the page; the hub's requests carry the same
// credentials), and a meeting one creates appears in the other. Once the responder reads
// the user (issue 20), the connections carry user_name and the meeting created_by.
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, makeHtpasswd } from '../integration/stack.mjs';
import { launchBrowser, openWindow, steps, transports } from './browser.mjs';

const users = { alice: 'alice-browser-pw', bob: 'bob-browser-pw' };
const GROUP = 'webauth-browser';
const HOUR_PX = 44;	// week.js

async function waitConnected(page) {
	await page.waitForSelector('body[data-connection="connected"][data-loaded="true"]', { timeout: 15000 })
		.catch((e) => { throw new Error(`${e.message}\n${page.problems.join('\n')}`); });
}

/** Whether pollhub.<table> has <column> (the C and SQL side of identity is there). */
async function hasColumn(stack, table, column) {
	return (await stack.psql(`SELECT count(*) FROM information_schema.columns
		WHERE table_schema = 'pollhub' AND table_name = '${table}' AND column_name = '${column}'`)) === '1';
}

for (const transport of transports) {
	describe(`demo page behind basic authentication over ${transport}`, { timeout: 90000 }, () => {
		let stack;
		let browser;
		let alice;
		let bob;
		let created;

		before(async () => {
			stack = await startStack({
				htpasswd: makeHtpasswd(users),
				env: { POLLHUB_AUTH: 'web-server', POLLHUB_POLL_TIMEOUT: '20' },
			});
			// Both users on one calendar, when grants exist (before them: one group by address).
			if ((await stack.psql(`SELECT to_regprocedure('pollhub.grant_group(text,text,text)') IS NOT NULL`)) === 't') {
				for (const user of Object.keys(users))
					await stack.psql(`SELECT pollhub.grant_group('${user}', '${GROUP}', 'write')`);
			}
			browser = await launchBrowser();
		});
		after(async () => {
			await browser?.close();
			await stack?.stop();
		});
		const test = steps(() => stack, transport);
		const url = () => `${stack.url}/?transport=${transport}`;

		test('a browser without credentials gets 401 for the page', async () => {
			const context = await browser.newContext();
			try {
				const page = await context.newPage();
				const answer = page.waitForResponse((res) => new URL(res.url()).pathname === '/');
				// Headless Chromium cannot ask the person: the navigation fails
				// (net::ERR_INVALID_AUTH_CREDENTIALS) after the 401.
				await page.goto(url()).catch(() => {});
				const r = await answer;
				assert.equal(r.status(), 401);
				assert.match(await r.headerValue('www-authenticate') || '', /^Basic realm="pollhub"/);
			} finally {
				await context.close();
			}
		});

		test('alice and bob, each with their own user, load the calendar and connect', async () => {
			[alice, bob] = await Promise.all(Object.entries(users).map(([username, password]) =>
				openWindow(browser, url(), { httpCredentials: { username, password } })));
			await Promise.all([waitConnected(alice), waitConnected(bob)]);
			for (const page of [alice, bob]) {
				assert.match(await page.locator('#connection-state').textContent(), /^connected/);
				assert.equal(await page.locator('#transport').inputValue(), transport);
				assert.deepEqual(page.problems, []);
			}
		});

		test('a meeting alice creates appears in bob\'s calendar', async () => {
			// Wednesday 10:00 of the week shown: click the empty slot, name it, save.
			await alice.locator('.day[data-day="2"]').click({ position: { x: 30, y: 10 * HOUR_PX + 6 } });
			await alice.locator('#meeting-title').fill('Behind basic auth');
			await alice.locator('#meeting-save').click();
			const mine = alice.locator('.meeting:not([data-id=""])', { hasText: 'Behind basic auth' });
			await mine.waitFor();
			created = await mine.getAttribute('data-id');
			assert.match(created, /^[0-9a-f-]{36}$/);
			await bob.locator(`.meeting[data-id="${created}"]`, { hasText: 'Behind basic auth' }).waitFor({ timeout: 5000 });
			for (const page of [alice, bob]) assert.deepEqual(page.problems, []);
		});

		test('the hub knows who is connected and who created the meeting', async (t) => {
			if (!(await hasColumn(stack, 'connections', 'user_name')))
				return t.skip('pollhub.connections has no user_name yet (identity not wired in C)');
			assert.equal(await stack.psql(`SELECT string_agg(DISTINCT user_name, ',' ORDER BY user_name)
				FROM pollhub.connections WHERE state = 'open'`), 'alice,bob');
			if (!(await hasColumn(stack, 'meetings', 'created_by')))
				return t.skip('pollhub.meetings has no created_by yet');
			assert.equal(await stack.psql(`SELECT created_by FROM pollhub.meetings WHERE id = '${created}'`), 'alice');
		});
	});
}
