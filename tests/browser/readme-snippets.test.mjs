// README.md's browser snippets, run as written against the real stack so none can rot.
// Each runnable block in README.md follows a marker line `<!-- snippet: NAME ... -->`; this
// test reads README.md, takes the fenced block after each marker and serves it as a page
// from a temporary docroot (a fragment wrapped in a minimal document; the Scheduler page as
// it is), with the npm packages its scripts name under /node_modules/:
//
//   core-client       @microsoft/signalr: connects, reads, logs another client's create
//   classic-client    jquery.signalR 2.4.3: the same over the classic protocol
//   kendo-datasource  kendo-ui-core's DataSource (SignalR transport, the seed's schema):
//                     reads into models, a push carries another client's create, and its
//                     commented-out add/sync lines create a meeting the Node client sees
//   kendo-scheduler   the complete Kendo Scheduler page. Its commercial kendo.all.min.js
//                     (a CDN URL, never fetched) is answered with kendo-ui-core's DataSource
//                     and Notification plus a Scheduler stand-in that only builds and reads
//                     the DataSource and gives its week view's dates
//                     (readme-snippets/kendo-scheduler-stub.js), so what is asserted is the
//                     page's own code: its elements and includes, the schema (RoomID and
//                     Attendees mapped, each resource a schema field), serverFiltering and
//                     the parameterMap: the read the page sends is the visible week in UTC
//                     ({ Start, End } of the week of today, in a browser in New York), on a
//                     calendar too large to read whole (which the hub refuses), and the
//                     DataSource holds that week and nothing else; the Notification widget
//                     shows a push without a TypeError. Not the calendar's rendering nor
//                     what timezone does to events: that needs the commercial script.
//
// For every snippet: the page connects over the transport under test (the snippet's own
// transport line is rewritten to it; the rewrite must find that line), the read answers
// what the hub holds, a create made by a Node client shows up in the page as a push, and
// nothing failed: no page error, no console error, no HTTP error, no request leaving the
// stack. Every marker this test knows must be in README.md exactly once and every ```html
// or ```js block there must be marked: a renamed or removed snippet fails, never skips. A js
// block marked `<!-- fragment: NAME -->` (a few lines of a page, not a page) is compiled, not run.
// (The Razor `cshtml` variant of the Scheduler needs ASP.NET and is not run.)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import vm from 'node:vm';
import path from 'node:path';
import { startStack, connect, stopAll, waitFor } from '../integration/stack.mjs';
import { launchBrowser, makeDocroot, here, transports, seedMeeting } from './browser.mjs';

const repoRoot = path.resolve(here, '../..');
// POLLHUB_README: another copy to read (to check that a broken snippet fails this test).
const readmePath = process.env.POLLHUB_README || path.join(repoRoot, 'README.md');
const readme = fs.readFileSync(readmePath, 'utf8');
const kendoCore = path.resolve(here, '../node_modules/kendo-ui-core/umd');
const theme = path.join(repoRoot, 'deploy/www/node_modules/@progress/kendo-theme-default');

/** The snippets this test runs, by marker name. */
const EXPECTED = ['core-client', 'kendo-datasource', 'classic-client', 'kendo-scheduler'];

/** Marked blocks: { name, lang, code, line }; every html/js fence must be marked. */
function extractSnippets(text) {
	const lines = text.split('\n');
	const found = [];
	const unmarked = [];
	const fragments = [];
	for (let i = 0; i < lines.length; i++) {
		const open = /^```(\S*)\s*$/.exec(lines[i]);
		if (!open || !open[1]) continue;
		let end = i + 1;
		while (end < lines.length && lines[end] !== '```') end++;
		const lang = open[1];
		let prev = i - 1;
		while (prev >= 0 && lines[prev].trim() === '') prev--;
		const marker = prev >= 0 ? /^<!-- snippet: ([a-z0-9-]+)\b.*-->$/.exec(lines[prev].trim()) : null;
		// A js fragment (a few lines inside a page, not a page): compiled, not run.
		const fragment = prev >= 0 ? /^<!-- fragment: ([a-z0-9-]+)\b.*-->$/.exec(lines[prev].trim()) : null;
		if (marker) found.push({ name: marker[1], lang, code: lines.slice(i + 1, end).join('\n'), line: i + 1 });
		else if (fragment && lang === 'js') fragments.push({ name: fragment[1], code: lines.slice(i + 1, end).join('\n'), line: i + 1 });
		else if (lang === 'html' || lang === 'js') unmarked.push(`${path.basename(readmePath)}:${i + 1} (${lang})`);
		i = end;
	}
	return { found, unmarked, fragments };
}

const { found, unmarked, fragments } = extractSnippets(readme);
const snippet = (name) => {
	const all = found.filter((s) => s.name === name);
	assert.equal(all.length, 1, `README.md has ${all.length} blocks marked <!-- snippet: ${name} --> (want 1)`);
	return all[0];
};

/** Replaces exactly one match of re in code (the test fails if the snippet lost that line). */
function rewriteOnce(code, re, replacement, what) {
	const matches = code.match(new RegExp(re.source, 'g')) || [];
	assert.equal(matches.length, 1, `${what}: ${matches.length} matches of ${re} in the snippet (want 1)`);
	return code.replace(re, replacement);
}

const coreTransport = (code, transport) => rewriteOnce(code, /signalR\.HttpTransportType\.\w+/,
	`signalR.HttpTransportType.${transport}`, 'the Core transport');
const classicTransport = (code, transport) => transport === 'LongPolling'
	? (rewriteOnce(code, /connection\.start\(\{ jsonp: true \}\)/, '$&', 'the classic start'), code)
	: rewriteOnce(code, /connection\.start\(\{ jsonp: true \}\)/,
		'connection.start({ transport: "serverSentEvents" })', 'the classic start');

/** A fragment as a page (the icon link spares a /favicon.ico request). */
const asPage = (name, body) => `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>README snippet ${name}</title>
<link rel="icon" href="data:,">
</head>
<body>
${body}
</body>
</html>
`;

/** The answer for the Scheduler page's kendo.all.min.js: see the header. */
function kendoAllStandIn() {
	const modules = ['core', 'data.odata', 'data.xml', 'data', 'data.signalr',
		'popup', 'html.base', 'html.icon', 'icons', 'notification'];
	return modules.map((m) => fs.readFileSync(path.join(kendoCore, `kendo.${m}.min.js`), 'utf8')
		.replace(/\/\/# sourceMappingURL=.*$/m, ''))
		.concat(fs.readFileSync(path.join(here, 'readme-snippets/kendo-scheduler-stub.js'), 'utf8'))
		.join('\n;\n');
}

const meeting = (title, day) => ({
	...seedMeeting, Title: title, Description: `${title} (README snippet test)`,
	Start: `2026-12-0${day}T09:00:00.000Z`, End: `2026-12-0${day}T10:00:00.000Z`, RoomID: 2, Attendees: [1, 3],
});

/**
 * Opens url in a fresh context whose every problem lands in page.problems and whose
 * console.log lines land in page.logs; requests for anything but the stack are answered by
 * routes[url] (a { body, contentType }) or refused as a problem.
 */
async function openSnippet(browser, stack, url, routes = {}) {
	const context = await browser.newContext({ timezoneId: 'America/New_York', locale: 'en-US' });
	context.setDefaultTimeout(5000);
	const page = await context.newPage();
	page.problems = [];
	page.logs = [];
	page.requests = [];
	page.routed = [];
	page.on('pageerror', (err) => page.problems.push(`page error: ${err.message}`));
	page.on('console', (msg) => {
		if (msg.type() === 'error') page.problems.push(`console error: ${msg.text()}`);
		else if (msg.type() === 'log') page.logs.push(msg.text());
	});
	page.on('response', (res) => {
		if (res.status() >= 400) page.problems.push(`${res.status()} for ${res.request().method()} ${res.url()}`);
	});
	page.on('request', (req) => {
		if (req.url().startsWith(`${stack.url}/meetings`))
			page.requests.push({ url: req.url(), headers: req.headers(), body: req.method() === 'POST' ? req.postData() : null });
	});
	page.on('requestfailed', (req) => {
		if (!req.url().includes('/meetings')) page.problems.push(`request failed: ${req.url()}`);
	});
	await context.route((u) => !u.href.startsWith(stack.url), (route) => {
		const target = route.request().url();
		const answer = routes[target];
		if (!answer) {
			page.problems.push(`a request leaves the stack: ${target}`);
			return route.abort();
		}
		page.routed.push(target);
		return route.fulfill({ status: 200, contentType: answer.contentType, body: answer.body });
	});
	await page.goto(url);
	return page;
}

/** Waits for a console.log line matching re; returns it. */
async function logged(page, re, what) {
	const deadline = Date.now() + 8000;
	for (;;) {
		const line = page.logs.find((l) => re.test(l));
		if (line) return line;
		if (Date.now() > deadline) throw new Error(`no console line for ${what} (${re}); logged: ${JSON.stringify(page.logs)}; problems: ${JSON.stringify(page.problems)}`);
		await new Promise((r) => setTimeout(r, 50));
	}
}

/** The hub invocations of target the page POSTed (Core JSON protocol records). */
const invocations = (page, target) => page.requests.filter((r) => r.body && /\/meetings\?id=/.test(r.url))
	.flatMap((r) => r.body.split('\x1e').filter(Boolean))
	.map((rec) => { try { return JSON.parse(rec); } catch { return null; } })
	.filter((m) => m && m.type === 1 && m.target === target);

const DAY = 86400000;
/** The week the page shows today: [its Sunday, the next Sunday) at 00:00 UTC, for a browser
 * in zone (en-US weeks start on Sunday; the Scheduler's timezone is Etc/UTC). */
function visibleWeek(zone) {
	const today = Date.parse(`${new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(new Date())}T00:00:00.000Z`);
	const start = today - new Date(today).getUTCDay() * DAY;
	return { Start: new Date(start).toISOString(), End: new Date(start + 7 * DAY).toISOString(), start };
}

/** Asserts the page's hub traffic used transport (Core or classic wire). */
function assertTransport(page, transport, classic) {
	const urls = page.requests.map((r) => r.url);
	if (classic) {
		const want = transport === 'LongPolling' ? 'transport=longPolling' : 'transport=serverSentEvents';
		assert.ok(urls.some((u) => u.includes('/meetings/connect?') && u.includes(want)), `a classic connect with ${want}: ${urls.join(' ')}`);
	} else {
		const streams = page.requests.filter((r) => /text\/event-stream/.test(r.headers.accept || ''));
		if (transport === 'ServerSentEvents') assert.ok(streams.length > 0, `an event stream: ${urls.join(' ')}`);
		else {
			assert.equal(streams.length, 0, 'no event stream under LongPolling');
			assert.ok(urls.some((u) => /\/meetings\?id=/.test(u)), `a poll: ${urls.join(' ')}`);
		}
	}
}

describe('README.md: the marked snippets', () => {
	it('every runnable snippet is marked, and every marker is found exactly once', () => {
		assert.deepEqual(unmarked, [], 'html/js blocks without a <!-- snippet: NAME --> marker');
		for (const name of EXPECTED) snippet(name);
		assert.deepEqual(found.map((s) => s.name).filter((n) => !EXPECTED.includes(n)), [],
			'markers this test does not run');
		for (const name of EXPECTED) assert.equal(snippet(name).lang, 'html', `${name} is an html block`);
	});
	it('every js fragment compiles', () => {
		assert.ok(fragments.length > 0, 'README.md has fragments');
		for (const f of fragments) {
			assert.doesNotThrow(() => new vm.Script(f.code, { filename: `README.md:${f.line}` }),
				`fragment ${f.name} (README.md:${f.line})`);
		}
	});
});

for (const transport of transports) {
	describe(`README.md's snippets in a browser, over ${transport}`, { timeout: 120000 }, () => {
		let docroot;
		let stack;
		let browser;
		let node;
		const pages = [];

		before(async () => {
			docroot = makeDocroot([], ['jquery', 'signalr', '@microsoft/signalr', 'kendo-ui-core']);
			const progress = path.join(docroot.dir, 'node_modules/@progress');
			fs.mkdirSync(progress, { recursive: true });
			if (fs.existsSync(theme)) fs.symlinkSync(theme, path.join(progress, 'kendo-theme-default'));
			else {	// no `npm ci` in deploy/www: an empty theme keeps the page's link working
				fs.mkdirSync(path.join(progress, 'kendo-theme-default/dist'), { recursive: true });
				fs.writeFileSync(path.join(progress, 'kendo-theme-default/dist/all.css'), '/* no theme installed */\n');
			}
			fs.writeFileSync(path.join(docroot.dir, 'telerik-license.js'), '// the Kendo script key would be here\n');
			stack = await startStack({ docroot: docroot.dir, env: { POLLHUB_POLL_TIMEOUT: '20' } });
			browser = await launchBrowser();
			node = await connect(stack.hubUrl, { transport: 'LongPolling' });
			await node.invoke('create', { ...seedMeeting, Title: 'Seeded for the README snippets' });
		});
		after(async () => {
			for (const page of pages) await page.context().close().catch(() => {});
			await stopAll(node);
			await browser?.close();
			await stack?.stop();
			docroot?.remove();
		});

		/** Writes the page for snippet name (code rewritten by fn) and opens it. */
		async function open(name, code, routes) {
			const file = `readme-${name}.html`;
			fs.writeFileSync(path.join(docroot.dir, file), code);
			const page = await openSnippet(browser, stack, `${stack.url}/${file}`, routes);
			pages.push(page);
			return page;
		}
		const held = async () => (await node.invoke('read')).length;
		const create = (title, day) => node.invoke('create', meeting(title, day));

		it('core-client: connects, reads, logs another client\'s create', async (t) => stack.guard(async () => {
			const count = await held();
			const page = await open('core-client', asPage('core-client', coreTransport(snippet('core-client').code, transport)));
			await logged(page, new RegExp(`^read ${count} meetings$`), 'the read');
			assertTransport(page, transport, false);
			const title = `Core snippet push ${transport}`;
			const t0 = Date.now();
			await create(title, 1);
			await logged(page, new RegExp(`^another user created ${title}$`), 'the create push');
			t.diagnostic(`push seen after ${Date.now() - t0} ms`);
			assert.deepEqual(page.problems, []);
		})());

		it('classic-client: connects, reads, logs another client\'s create', async (t) => stack.guard(async () => {
			const count = await held();
			const page = await open('classic-client', asPage('classic-client', classicTransport(snippet('classic-client').code, transport)));
			await logged(page, new RegExp(`^read ${count} meetings$`), 'the read');
			assertTransport(page, transport, true);
			const title = `Classic snippet push ${transport}`;
			const t0 = Date.now();
			await create(title, 2);
			await logged(page, new RegExp(`^another user created ${title}$`), 'the create push');
			t.diagnostic(`push seen after ${Date.now() - t0} ms`);
			assert.deepEqual(page.problems, []);
		})());

		it('kendo-datasource: reads into models, pushes another client\'s create', async (t) => stack.guard(async () => {
			const count = await held();
			const page = await open('kendo-datasource', asPage('kendo-datasource', coreTransport(snippet('kendo-datasource').code, transport)));
			await logged(page, new RegExp(`^read ${count} meetings$`), 'the read');
			assertTransport(page, transport, false);
			/* global meetings */
			const seeded = await page.evaluate(() => {
				const m = meetings.data().find((x) => x.title === 'Seeded for the README snippets');
				return m && { ID: m.ID, start: m.start.toISOString(), end: m.end.toISOString(), isAllDay: m.isAllDay, description: m.description };
			});
			assert.ok(seeded, 'the seeded meeting is a model with the mapped title');
			assert.deepEqual({ ...seeded, ID: undefined }, {
				ID: undefined, start: seedMeeting.Start, end: seedMeeting.End, isAllDay: false, description: seedMeeting.Description,
			});
			const title = `DataSource snippet push ${transport}`;
			const t0 = Date.now();
			const made = await create(title, 3);
			await logged(page, new RegExp(`^push create ${title}$`), 'the create push');
			t.diagnostic(`push seen after ${Date.now() - t0} ms`);
			assert.equal(await page.evaluate((id) => meetings.get(id) && meetings.get(id).title, made.ID), title,
				'the pushed meeting is in the DataSource');
			// The snippet's commented-out lines (add, then sync): the hub's create, pushed to the Node client.
			const lines = [...snippet('kendo-datasource').code.matchAll(/^\s*\/\/ (meetings\.\w+\(.*\);)/gm)].map((m) => m[1]);
			assert.deepEqual(lines.map((l) => l.replace(/\(.*/, '')), ['meetings.add', 'meetings.sync'], 'the add and sync lines');
			await page.evaluate((code) => (0, eval)(code), lines.join('\n'));
			await waitFor(() => node.pushes.payloads('create').some((m) => m.Title === 'Review'), 5000, 'the page\'s create at the Node client');
			const review = await page.evaluate(() => meetings.data().filter((m) => m.title === 'Review').map((m) => ({ ID: m.ID, dirty: m.dirty })));
			assert.equal(review.length, 1);
			assert.match(review[0].ID, /^[0-9a-f-]{36}$/, 'the created item has its server ID');
			assert.equal(review[0].dirty, false);
			assert.deepEqual(page.problems, []);
		})());

		it('kendo-scheduler: the page reads the visible week (serverFiltering, parameterMap), its schema and notification work (kendo.all stubbed)', async (t) => stack.guard(async () => {
			const code = coreTransport(snippet('kendo-scheduler').code, transport);
			assert.match(code, /^<!DOCTYPE html>/i, 'a complete page');
			const kendoAll = /<script src="(https:\/\/[^"]+\/kendo\.all\.min\.js)"><\/script>/.exec(code);
			assert.ok(kendoAll, 'the page loads the commercial kendo.all.min.js');
			// A calendar too large to read whole: 4,000 meetings of the year before (loaded with
			// psql, without pushes), beside one in the visible week and one the week before it.
			const week = visibleWeek('America/New_York');
			const group = await stack.psql(`SELECT group_name FROM pollhub.connections WHERE id = '${node.connectionId}'`);
			assert.ok(group, 'the Node client\'s calendar');
			const q = `'${group.replace(/'/g, "''")}'`;
			await stack.psql(`BEGIN;
				ALTER TABLE pollhub.meetings DISABLE TRIGGER meetings_push, DISABLE TRIGGER meetings_audit;
				INSERT INTO pollhub.meetings (group_name, title, description, start_at, end_at, room_id, attendees)
				SELECT ${q}, 'Last year ' || i, repeat('Agenda. ', 30), timestamptz '${new Date(week.start - 400 * DAY).toISOString()}' + i * interval '2 hours',
					timestamptz '${new Date(week.start - 400 * DAY).toISOString()}' + i * interval '2 hours' + interval '1 hour', 1, '{1}'
				FROM generate_series(1, 4000) i;
				ALTER TABLE pollhub.meetings ENABLE TRIGGER meetings_push, ENABLE TRIGGER meetings_audit;
				COMMIT;`);
			await assert.rejects(node.invoke('read'), /The calendar is too large to send/, 'an unranged read is refused');
			const at = (days, hour) => new Date(week.start + days * DAY + hour * 3600000).toISOString();
			const inWeek = await node.invoke('create', { ...meeting('In the visible week', 1), Start: at(3, 9), End: at(3, 10), RoomID: 1, Attendees: [1, 2] });
			await node.invoke('create', { ...meeting('The week before', 1), Start: at(-4, 9), End: at(-4, 10) });
			const shown = await node.invoke('read', { Start: week.Start, End: week.End });
			assert.ok(shown.some((m) => m.ID === inWeek.ID));
			const page = await open('kendo-scheduler', code, {
				[kendoAll[1]]: { body: kendoAllStandIn(), contentType: 'application/javascript' },
			});
			assert.deepEqual(page.routed, [kendoAll[1]], 'kendo.all.min.js answered by the stand-in');
			/* global $ */
			const widget = () => page.evaluate(() => {
				const s = $('#scheduler').data('kendoScheduler');
				const ds = s.options.dataSource;
				const fields = ds.schema.model.fields;
				return {
					elements: [$('#scheduler').length, $('#notification').length],
					notification: !!$('#notification').data('kendoNotification'),
					timezone: s.options.timezone,
					serverFiltering: ds.serverFiltering,
					parameterMap: typeof (ds.transport && ds.transport.parameterMap),
					from: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.from || k])),
					resources: (s.options.resources || []).map((r) => r.field),
					total: s.dataSource.total(),
					rows: s.dataSource.data().map((m) => ({
						title: m.title, start: m.start.toISOString(), roomId: m.roomId,
						attendees: m.attendees && Array.from(m.attendees),
					})),
				};
			});
			await page.waitForFunction((n) => {
				const s = window.jQuery && jQuery('#scheduler').data('kendoScheduler');
				return s && s.dataSource.total() === n;
			}, shown.length, { timeout: 8000 }).catch(() => { throw new Error(`the Scheduler's DataSource did not read the week's ${shown.length} meetings; problems: ${JSON.stringify(page.problems)}; reads sent: ${JSON.stringify(invocations(page, 'read'))}`); });
			const reads = invocations(page, 'read');
			assert.equal(reads.length, 1, `one read: ${JSON.stringify(reads)}`);
			assert.deepEqual(reads[0].arguments, [{ Start: week.Start, End: week.End }],
				'the read sends the visible week in UTC, from its Sunday to the next (a browser in New York)');
			const w = await widget();
			assert.deepEqual(w.elements, [1, 1], 'the page has #scheduler and #notification');
			assert.ok(w.notification, 'the Notification widget exists before any push');
			assert.equal(w.timezone, 'Etc/UTC');
			assert.equal(w.serverFiltering, true, 'serverFiltering: true');
			assert.equal(w.parameterMap, 'function', 'a parameterMap on the transport');
			assert.equal(w.from.roomId, 'RoomID');
			assert.equal(w.from.attendees, 'Attendees');
			assert.equal(w.from.recurrenceId, 'RecurrenceID', 'recurrenceId with a lower-case d');
			for (const field of w.resources) assert.ok(field in w.from, `the resource field ${field} is in the schema`);
			assert.deepEqual(w.resources.sort(), ['attendees', 'roomId']);
			const titles = w.rows.map((r) => r.title);
			assert.deepEqual(titles.sort(), shown.map((m) => m.Title).sort(), 'the DataSource holds the week, as the hub reads it');
			assert.ok(!titles.includes('The week before') && !titles.some((x) => x.startsWith('Last year ')), 'and nothing else');
			const seen = w.rows.find((r) => r.title === 'In the visible week');
			assert.deepEqual(seen, { title: seen.title, start: inWeek.Start, roomId: 1, attendees: [1, 2] });
			assertTransport(page, transport, false);

			const title = `Scheduler snippet push ${transport}`;
			const t0 = Date.now();
			await node.invoke('create', { ...meeting(title, 4), Start: at(4, 9), End: at(4, 10) });
			await page.locator('.k-notification', { hasText: `create: ${title}` }).waitFor({ state: 'visible', timeout: 8000 })
				.catch(() => { throw new Error(`no notification for the push; problems: ${JSON.stringify(page.problems)}`); });
			t.diagnostic(`notification shown after ${Date.now() - t0} ms`);
			const after = await widget();
			const pushed = after.rows.find((r) => r.title === title);
			assert.deepEqual(pushed, { title, start: at(4, 9), roomId: 2, attendees: [1, 3] });
			assert.deepEqual(page.problems, []);
		})());
	});
}
