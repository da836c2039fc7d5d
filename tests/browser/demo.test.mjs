// The demo page (deploy/www) in two browser windows: a meeting created, retitled,
// dragged to another day and deleted in one appears in the other within a second.
// With POLLHUB_DEMO_SCREENSHOT=FILE it also writes the two windows side by side to FILE
// (the README's docs/demo-two-windows.png).
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, connect, stopAll, repoRoot } from '../integration/stack.mjs';
import { launchBrowser, openWindow, steps, transports } from './browser.mjs';

// "Within a second"; POLLHUB_PUSH_DEADLINE_MS changes it (a machine busy with other work).
const PUSH_DEADLINE_MS = Number(process.env.POLLHUB_PUSH_DEADLINE_MS) || 1000;
const HOUR_PX = 44;	// week.js
// What the page loads, the hub's requests aside (measured: 34 requests, 1,352,000 bytes;
// before the page was trimmed, 37 requests and 1,854,000 bytes).
const MAX_PAGE_REQUESTS = 34;
const MAX_PAGE_BYTES = 1_400_000;
// kendo-ui-core files the page needs no longer (index.html says why).
const UNUSED_KENDO = ['kendo.icons.min.js', 'kendo.data.odata.min.js', 'kendo.data.xml.min.js', 'kendo.badge.min.js'];

/** Monday 00:00 UTC of the current week: the windows run in UTC and show this week. */
function thisMonday() {
	const now = new Date();
	const monday = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
	monday.setUTCDate(monday.getUTCDate() - ((monday.getUTCDay() + 6) % 7));
	return monday;
}

function at(monday, day, hour, minutes = 0) {
	return new Date(monday.getTime() + ((day * 24 + hour) * 60 + minutes) * 60000).toISOString();
}

/** A few meetings of this week, so the calendar is not empty (none on Wednesday 10:00). */
function seedMeetings(monday) {
	const m = (title, day, from, to) => ({
		ID: null, Title: title, Start: at(monday, day, ...from), End: at(monday, day, ...to),
		IsAllDay: false, Description: '', RecurrenceRule: '', RecurrenceID: null,
		RecurrenceException: '', StartTimezone: '', EndTimezone: '', RoomID: null, Attendees: [],
	});
	return [
		m('Standup', 0, [9, 0], [9, 30]),
		m('Planning', 0, [13, 0], [14, 30]),
		m('1:1 Alex', 1, [11, 0], [11, 45]),
		m('Customer call', 1, [15, 0], [16, 0]),
		m('Standup', 2, [9, 0], [9, 30]),
		m('Architecture', 3, [14, 0], [15, 30]),
		m('Code review', 3, [14, 30], [15, 30]),
		m('Retro', 4, [16, 0], [17, 0]),
	];
}

const meetingIn = (page, id) => page.locator(`.meeting[data-id="${id}"]`);

/** The page's own requests (the document and everything it loaded, not /meetings…). */
const pageLoad = (page) => page.evaluate(() => {
	const entries = [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')]
		.filter((e) => !new URL(e.name).pathname.startsWith('/meetings'));
	return { requests: entries.length, bytes: entries.reduce((sum, e) => sum + e.encodedBodySize, 0),
		urls: entries.map((e) => new URL(e.name).pathname) };
});

/** Whether the meeting's card lies within the grid's visible (scrolled) area. */
const inView = {
	fn: (id) => {
		const node = document.querySelector(`.meeting[data-id="${id}"]`);
		const scroll = document.querySelector('.week-scroll');
		if (!node || !scroll) return false;
		const r = node.getBoundingClientRect();
		const v = scroll.getBoundingClientRect();
		return r.top >= v.top - 1 && r.bottom <= v.bottom + 1;
	},
};

/** Every timed card whose title is cut (wider or taller than the card shows), as text. */
const cutTitles = (page) => page.evaluate(() => [...document.querySelectorAll('.meeting[data-id]:not(.allday)')]
	.filter((card) => {
		const title = card.querySelector('.meeting-title');
		return title.scrollWidth > title.clientWidth || card.scrollWidth > card.clientWidth
			|| title.offsetTop + title.offsetHeight > card.clientHeight;
	}).map((card) => `${card.querySelector('.meeting-title').textContent} (${card.clientWidth}x${card.clientHeight})`));

async function waitConnected(page) {
	await page.waitForSelector('body[data-connection="connected"][data-loaded="true"]', { timeout: 15000 })
		.catch((e) => { throw new Error(`${e.message}\n${page.problems.join('\n')}`); });
}

// Latency is measured between browser clocks (one system clock): from the gesture in one
// window, as its page saw it, to the frame in which the other window shows the result,
// leaving out the time Playwright itself takes to act and to notice.

/** Records the time of every click and pointerup in `page` as window.gestureAt. */
function recordGestures(page) {
	return page.evaluate(() => {
		for (const type of ['pointerup', 'click'])
			document.addEventListener(type, () => { window.gestureAt = Date.now(); }, true);
	});
}

const gestureAt = (page) => page.evaluate(() => window.gestureAt);

/**
 * Waits until check.fn(check.arg), run in `page`, returns its page time (Date.now() once
 * the condition holds); returns how long after t0 that was.
 */
async function seenWithin(page, t0, check, what) {
	const seen = await page.waitForFunction(check.fn, check.arg, { timeout: 5000, polling: 'raf' })
		.catch(() => { throw new Error(`the other window never showed ${what}`); });
	const ms = (await seen.jsonValue()) - t0;
	assert.ok(ms < PUSH_DEADLINE_MS, `the other window showed ${what} after ${ms} ms (limit ${PUSH_DEADLINE_MS})`);
	return ms;
}

const shows = (id, text) => ({
	fn: ([i, t]) => [...document.querySelectorAll(`.meeting[data-id="${i}"]`)]
		.some((n) => n.textContent.includes(t)) && Date.now(),
	arg: [id, text],
});
const gone = (id) => ({ fn: (i) => !document.querySelector(`.meeting[data-id="${i}"]`) && Date.now(), arg: id });

/** The two windows as one picture, each in a frame with a caption. */
async function sideBySide(browser, shots, file) {
	const page = await browser.newPage({ viewport: { width: 1860, height: 700 } });
	try {
		const frames = shots.map(({ caption, png }) => `<figure><figcaption>${caption}</figcaption>` +
			`<img src="data:image/png;base64,${png.toString('base64')}"></figure>`).join('');
		await page.setContent(`<style>
			body { margin: 0; padding: 20px; display: flex; align-items: flex-start; gap: 20px; background: #e9ebef;
				font: 13px system-ui, sans-serif; }
			figure { margin: 0; border-radius: 10px; overflow: hidden; background: #fff;
				box-shadow: 0 4px 14px rgb(0 0 0 / 0.18); }
			figcaption { padding: 8px 12px; background: #2f3542; color: #fff; }
			img { display: block; }
		</style>${frames}`);
		await page.locator('body').screenshot({ path: file });
	} finally {
		await page.close();
	}
}

for (const transport of transports) {
	describe(`demo page over ${transport}`, { timeout: 90000 }, () => {
		let stack;
		let browser;
		let one;
		let two;
		let created;
		const monday = thisMonday();

		before(async () => {
			stack = await startStack({ env: { POLLHUB_POLL_TIMEOUT: '20' } });
			browser = await launchBrowser();
		});
		after(async () => {
			await browser?.close();
			await stack?.stop();
		});
		const test = steps(() => stack, transport);

		test('two windows load the week and connect', async (t) => {
			const seeder = await connect(stack.hubUrl, { transport: 'LongPolling' });
			try {
				for (const m of seedMeetings(monday)) await seeder.invoke('create', m);
			} finally {
				await stopAll(seeder);
			}
			const t0 = Date.now();
			const url = `${stack.url}/?transport=${transport}`;
			[one, two] = await Promise.all([openWindow(browser, url), openWindow(browser, url)]);
			const t1 = Date.now();
			await Promise.all([waitConnected(one), waitConnected(two)]);
			await Promise.all([recordGestures(one), recordGestures(two)]);
			t.diagnostic(`windows loaded in ${t1 - t0} ms, connected and read ${Date.now() - t1} ms later`);
			for (const page of [one, two]) {
				assert.equal(await page.locator('.meeting[data-id]').count(), 8);
				assert.match(await page.locator('#connection-state').textContent(), /^connected/);
				assert.equal(await page.locator('#transport').inputValue(), transport);
				assert.equal(await page.locator('#time-zone').textContent(), 'Times in UTC');
			}
		});

		test('the page loads only what it uses', async (t) => {
			const load = await pageLoad(one);
			t.diagnostic(`page: ${load.requests} requests, ${load.bytes} bytes`);
			for (const file of UNUSED_KENDO) assert.ok(!load.urls.some((u) => u.endsWith(`/${file}`)), `${file} loaded`);
			assert.ok(load.requests <= MAX_PAGE_REQUESTS, `${load.requests} requests (at most ${MAX_PAGE_REQUESTS})`);
			assert.ok(load.bytes <= MAX_PAGE_BYTES, `${load.bytes} bytes (at most ${MAX_PAGE_BYTES})`);
			// kendo-icons.js holds the installed @progress/kendo-svg-icons' shapes, unchanged…
			const svgIcons = (await import(path.join(repoRoot,
				'deploy/www/node_modules/@progress/kendo-svg-icons/dist/index.js'))).default;
			const mine = await one.evaluate(() => kendo.ui.svgIcons);
			for (const [key, icon] of Object.entries(mine)) {
				assert.ok(svgIcons[key], `${key} is not a kendo-svg-icons icon`);
				assert.equal(icon.content, svgIcons[key].content, key);
				assert.equal(icon.viewBox, svgIcons[key].viewBox, key);
			}
			// …and every icon the widgets draw (dialog, pickers with their popups open,
			// notifications of each kind) is among them.
			await one.locator('#new-meeting').click();
			for (const picker of ['#meeting-start', '#meeting-end']) {
				for (const view of ['date', 'time']) {
					await one.evaluate(([p, v]) => $(p).data('kendoDateTimePicker').open(v), [picker, view]);
					await one.waitForTimeout(200);
					await one.evaluate(([p, v]) => $(p).data('kendoDateTimePicker').close(v), [picker, view]);
				}
			}
			await one.evaluate(() => {
				const n = $('#notification').data('kendoNotification');
				for (const type of ['info', 'success', 'warning', 'error']) n.showText(`a ${type}`, type);
			});
			const icons = await one.evaluate(() => [...document.querySelectorAll('.k-svg-icon')]
				.map((n) => ({ name: n.className.baseVal ?? n.className, drawn: !!n.querySelector('svg > *') })));
			assert.ok(icons.length >= 8, `only ${icons.length} icons drawn`);
			assert.deepEqual(icons.filter((i) => !i.drawn), [], 'icons drawn empty');
			await one.locator('#meeting-cancel').click();
			await one.evaluate(() => $('#notification').data('kendoNotification').hide());
			assert.deepEqual(one.problems, []);
		});

		test('a meeting created in one window appears in the other within a second', async (t) => {
			// Wednesday 10:00: click the empty slot, name the meeting, save.
			await one.locator('.day[data-day="2"]').click({ position: { x: 30, y: 10 * HOUR_PX + 6 } });
			await one.locator('#meeting-title').fill('Design review');
			await one.locator('#meeting-save').click();
			const t0 = await gestureAt(one);
			const mine = one.locator('.meeting', { hasText: 'Design review' });
			await mine.and(one.locator('.meeting:not([data-id=""])')).waitFor();
			created = await mine.getAttribute('data-id');
			assert.match(created, /^[0-9a-f-]{36}$/);
			const ms = await seenWithin(two, t0, shows(created, 'Design review'), 'the new meeting');
			assert.match(await meetingIn(two, created).textContent(), /10:00 – 11:00/);
			assert.equal(await one.locator('.meeting', { hasText: 'Design review' }).count(), 1);
			await two.locator('.k-notification', { hasText: 'New meeting: Design review' }).waitFor();
			t.diagnostic(`create shown in the other window after ${ms} ms`);

			const file = process.env.POLLHUB_DEMO_SCREENSHOT;
			if (file) {
				await two.waitForTimeout(300);	// the arrival animation's first frames
				const shots = [
					{ caption: `Window 1 · created “Design review”`, png: await one.screenshot() },
					{ caption: `Window 2 · pushed ${ms} ms later`, png: await two.screenshot() },
				];
				const target = path.resolve(repoRoot, file);
				fs.mkdirSync(path.dirname(target), { recursive: true });
				await sideBySide(browser, shots, target);
			}
		});

		test('retitled in the other window, then seen here', async () => {
			await meetingIn(two, created).click();
			await two.locator('#meeting-title').fill('Design review (v2)');
			await two.locator('#meeting-save').click();
			const t0 = await gestureAt(two);
			await seenWithin(one, t0, shows(created, 'Design review (v2)'), 'the new title');
		});

		test('dragged to Thursday 11:00 in one window, moved in the other', async () => {
			const box = await meetingIn(one, created).boundingBox();
			const columnWidth = (await one.locator('.day[data-day="3"]').boundingBox()).width;
			const x = box.x + box.width / 2;
			const y = box.y + 12;
			await one.mouse.move(x, y);
			await one.mouse.down();
			await one.mouse.move(x + columnWidth / 2, y + HOUR_PX / 2, { steps: 4 });
			await one.mouse.move(x + columnWidth, y + HOUR_PX, { steps: 4 });
			await one.mouse.up();
			const t0 = await gestureAt(one);
			await seenWithin(two, t0, {
				fn: (i) => [...document.querySelectorAll(`.day[data-day="3"] .meeting[data-id="${i}"]`)]
					.some((n) => n.textContent.includes('11:00 – 12:00')) && Date.now(),
				arg: created,
			}, 'the meeting on Thursday 11:00');
			const reader = await connect(stack.hubUrl, { transport: 'LongPolling' });
			try {
				const stored = (await reader.invoke('read')).find((m) => m.ID === created);
				assert.equal(stored.Start, at(monday, 3, 11));
				assert.equal(stored.End, at(monday, 3, 12));
				assert.equal(stored.Title, 'Design review (v2)');
			} finally {
				await stopAll(reader);
			}
		});

		test('deleted in the other window, gone here', async () => {
			await meetingIn(two, created).click();
			await two.locator('#meeting-delete').click();
			const t0 = await gestureAt(two);
			await seenWithin(one, t0, gone(created), 'the meeting removed');
			await seenWithin(two, t0, gone(created), 'the meeting removed');
			assert.equal(await one.locator('.meeting[data-id]').count(), 8);
			for (const page of [one, two]) assert.deepEqual(page.problems, []);
		});

		test('overlapping meetings side by side, no title cut', async () => {
			for (const page of [one, two]) {
				// Thursday: Architecture 14:00–15:30 and Code review 14:30–15:30.
				const cards = page.locator('.day[data-day="3"] .meeting[data-id]');
				assert.equal(await cards.count(), 2);
				const [a, b] = [await cards.nth(0).boundingBox(), await cards.nth(1).boundingBox()];
				assert.ok(a.y < b.y + b.height && b.y < a.y + a.height, 'they overlap in time');
				assert.ok(a.x + a.width <= b.x || b.x + b.width <= a.x, 'side by side, not on top of each other');
				assert.deepEqual(await cutTitles(page), []);
			}
		});

		test('an admin message sent from psql is shown, as text', async () => {
			const group = await stack.psql('SELECT group_name FROM pollhub.meetings LIMIT 1');
			const text = 'Maintenance at 18:00 <img src=x onerror="window.pwned=1"> & <b>save</b>';
			await stack.psql(`SELECT pollhub.send_to_group('${group}', 'notify', '${JSON.stringify([text])}')`);
			for (const page of [one, two]) {
				const banner = page.locator('#admin-message');
				await banner.waitFor({ state: 'visible' });
				assert.equal(await page.locator('#admin-message-text').textContent(), text);
				assert.equal(await banner.locator('img, b').count(), 0);
				assert.equal(await page.evaluate(() => window.pwned), undefined);
			}
			await one.locator('#admin-message-close').click();
			await one.locator('#admin-message').waitFor({ state: 'hidden' });
		});

		test('a meeting pushed or created off-screen is scrolled to and highlighted', async () => {
			const writer = await connect(stack.hubUrl, { transport: 'LongPolling' });
			let evening;
			try {
				// Wednesday 20:00, below the hours in view (the grid opens at 07:30).
				evening = await writer.invoke('create', { ...seedMeetings(monday)[0],
					Title: 'Evening call', Start: at(monday, 2, 20), End: at(monday, 2, 21) });
			} finally {
				await stopAll(writer);
			}
			for (const page of [one, two]) {
				await page.locator(`.meeting.flash[data-id="${evening.ID}"]`).waitFor();
				await page.waitForFunction(inView.fn, evening.ID, { timeout: 5000 });
			}
			// Created here for Wednesday 05:00, above the hours now in view.
			await one.locator('#new-meeting').click();
			await one.locator('#meeting-title').fill('Early flight');
			await one.evaluate(([start, end]) => {
				$('#meeting-start').data('kendoDateTimePicker').value(new Date(start));
				$('#meeting-end').data('kendoDateTimePicker').value(new Date(end));
			}, [at(monday, 2, 5), at(monday, 2, 6)]);
			await one.locator('#meeting-save').click();
			const early = one.locator('.meeting:not([data-id=""])', { hasText: 'Early flight' });
			await early.waitFor();
			const id = await early.getAttribute('data-id');
			await one.locator(`.meeting.flash[data-id="${id}"]`).waitFor();
			await one.waitForFunction(inView.fn, id, { timeout: 5000 });
			assert.equal(await one.evaluate((e) => document.querySelector(`.meeting[data-id="${e}"]`) &&
				document.querySelector('.week-scroll').scrollTop < 5 * 44, id), true);
			// Put the week back as the next step expects it.
			const reader = await connect(stack.hubUrl, { transport: 'LongPolling' });
			try {
				for (const m of (await reader.invoke('read')).filter((x) => [evening.ID, id].includes(x.ID))) {
					await reader.invoke('destroy', m);
				}
			} finally {
				await stopAll(reader);
			}
			for (const page of [one, two]) {
				await page.waitForFunction(() => document.querySelectorAll('.meeting[data-id]').length === 8);
			}
		});

		test('the calendar shows the time zone it displays in', async () => {
			const three = await openWindow(browser, `${stack.url}/?transport=${transport}`, { timezoneId: 'Asia/Tokyo' });
			try {
				await waitConnected(three);
				assert.equal(await three.locator('#time-zone').textContent(), 'Times in Asia/Tokyo (UTC+09:00)');
				// Monday's Standup, 09:00 UTC, at 18:00 there (unless Tokyo is in next week
				// already: Sunday from 15:00 UTC).
				const now = new Date();
				if (!(now.getUTCDay() === 0 && now.getUTCHours() >= 15)) assert.match(await three.locator('.day[data-day="0"] .meeting', { hasText: 'Standup' }).textContent(),
					/18:00 – 18:30/);
				assert.deepEqual(three.problems, []);
			} finally {
				await three.context().close();
			}
		});

		// The last step: failed hub requests are expected from here on.
		test('the badge follows a responder restart; the windows read what they missed', async () => {
			const windows = [one, two];
			const state = (name) => Promise.all(windows.map((page) =>
				page.waitForSelector(`body[data-connection="${name}"]`, { timeout: 20000 })));
			await stack.stopResponder();
			await state('reconnecting');
			assert.equal(await one.locator('#connection-state').textContent(), 'reconnecting');
			// Written while no window is connected: no push can bring it, only a new read.
			const group = await stack.psql('SELECT group_name FROM pollhub.meetings LIMIT 1');
			await stack.psql(`INSERT INTO pollhub.meetings (group_name, title, start_at, end_at)
				VALUES ('${group}', 'Added while away', '${at(monday, 4, 10)}', '${at(monday, 4, 11)}')`);
			await stack.startResponder();
			await state('connected');
			for (const page of windows) {
				const added = page.locator('.meeting', { hasText: 'Added while away' });
				await added.waitFor();
				assert.equal(await added.count(), 1);
				assert.equal(await page.locator('.meeting[data-id]').count(), 9);
			}
		});
	});
}
