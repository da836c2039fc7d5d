// The demo page (deploy/www) in two browser windows: a meeting created, retitled,
// dragged to another day and deleted in one appears in the other within a second.
// With POLLHUB_DEMO_SCREENSHOT=FILE it also writes the two windows side by side to FILE
// (the README's docs/demo-two-windows.png).
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, connect, stopAll, repoRoot, RS, waitFor } from '../integration/stack.mjs';
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

// --- Crowded hours and a calendar of many weeks (issue 21): six meetings in one hour stay
// readable ("+N more" for what does not fit side by side), and the page reads the week it
// shows, { Start, End }, again on every navigation.

const MIN_CARD_PX = 52;		// week.js: the narrowest card drawn side by side
const MAX_ANSWER = 65536;	// this stack's POLLHUB_MAX_ANSWER: far less than the whole calendar
const CROWD = ['Launch at 2', 'New hire sync', 'Budget review', 'Design critique', 'Vendor call', 'Hiring loop'];
const CHIP_BG = [243, 244, 246];	// .more-chip's background in app.css (#f3f4f6)

/** Six meetings on Tuesday that all overlap 14:30 (so they need six lanes). */
function crowdedHour(monday) {
	const base = seedMeetings(monday)[0];
	const times = [[[14, 0], [15, 0]], [[14, 0], [15, 0]], [[14, 0], [14, 45]], [[14, 15], [15, 0]],
		[[14, 30], [15, 30]], [[14, 0], [15, 30]]];
	return CROWD.map((title, i) => ({ ...base, Title: title,
		Start: at(monday, 1, ...times[i][0]), End: at(monday, 1, ...times[i][1]) }));
}

/** The lines a title element's text is laid out in (by the top of each character's box). */
const titleLines = (page, selector) => page.evaluate((sel) => [...document.querySelectorAll(sel)].map((title) => {
	const text = title.firstChild;
	const lines = [];
	let top = null;
	for (let i = 0; i < text.length; i++) {
		const range = document.createRange();
		range.setStart(text, i);
		range.setEnd(text, i + 1);
		const rect = range.getClientRects()[0];
		if (!rect) continue;	// a space collapsed at a line break
		if (top === null || Math.abs(rect.top - top) > 2) {
			lines.push('');
			top = rect.top;
		}
		lines[lines.length - 1] += text.data[i];
	}
	return { title: text.data, lines: lines.map((l) => l.trim()).filter(Boolean) };
}), selector);

/**
 * What the crowded Tuesday shows: the cards drawn (title, width), the chip's text and the
 * titles broken into pieces a reader cannot read: a line of one or two letters that is
 * not a whole word ("L", "N e w" when six cards share 113 px).
 */
async function crowdedDay(page) {
	const cards = await page.locator('.day[data-day="1"] .meeting[data-id]').evaluateAll((nodes) =>
		nodes.map((n) => ({ title: n.querySelector('.meeting-title').textContent, width: n.getBoundingClientRect().width })));
	const chip = page.locator('.day[data-day="1"] .more-chip');
	const chipText = (await chip.count()) === 1 ? (await chip.textContent()).replace(/\s+/g, ' ').trim() : null;
	const broken = (await titleLines(page, '.day[data-day="1"] .meeting[data-id] .meeting-title'))
		.filter(({ title, lines }) => lines.some((line) => line.length < 3 && !title.split(' ').includes(line)))
		.map(({ title, lines }) => `${title}: ${JSON.stringify(lines)}`);
	return { cards, chipText, broken };
}

function assertCrowdReadable(day, what) {
	assert.deepEqual(day.broken, [], `${what}: titles broken letter by letter`);
	assert.ok(day.cards.length >= 1, `${what}: no card drawn`);
	for (const card of day.cards) {
		assert.ok(card.width >= 60, `${what}: "${card.title}" is ${card.width.toFixed(1)} px wide`);
	}
	assert.equal(day.chipText, `+${CROWD.length - day.cards.length} more`, `${what}: the chip`);
}

/**
 * Pixels of a PNG (decoded by the browser) in the given boxes: for each, the share of its
 * pixels within 8 of `rgb` on every channel and the number of dark ones (text).
 */
async function pixelsIn(browser, png, boxes) {
	const page = await browser.newPage();
	try {
		return await page.evaluate(async ([b64, regions]) => {
			const img = new Image();
			img.src = `data:image/png;base64,${b64}`;
			await img.decode();
			const canvas = document.createElement('canvas');
			canvas.width = img.width;
			canvas.height = img.height;
			const ctx = canvas.getContext('2d');
			ctx.drawImage(img, 0, 0);
			return { width: img.width, height: img.height, regions: regions.map(({ x, y, width, height, rgb }) => {
				const data = ctx.getImageData(Math.round(x), Math.round(y), Math.round(width), Math.round(height)).data;
				let match = 0;
				let dark = 0;
				for (let i = 0; i < data.length; i += 4) {
					if (rgb.every((c, k) => Math.abs(data[i + k] - c) <= 8)) match++;
					if (data[i] + data[i + 1] + data[i + 2] < 3 * 120) dark++;
				}
				return { share: match / (data.length / 4), dark };
			}) };
		}, [png.toString('base64'), boxes]);
	} finally {
		await page.close();
	}
}

/** The hub's `read` invocations a page sends ({ Start, End } or undefined), as they go out. */
function recordReads(page) {
	const reads = [];
	page.on('request', (req) => {
		if (req.method() !== 'POST' || !new URL(req.url()).pathname.startsWith('/meetings')) return;
		for (const record of (req.postData() || '').split(RS)) {
			if (!record.trim().startsWith('{')) continue;
			const msg = JSON.parse(record);
			if (msg.type === 1 && msg.target === 'read') reads.push(msg.arguments[0]);
		}
	});
	return reads;
}

/** Waits until the last read the page sent asked for `range`. */
const lastReadIs = (reads, range) => waitFor(() => JSON.stringify(reads.at(-1)) === JSON.stringify(range), 5000,
	`a read of ${JSON.stringify(range)} (the last sent: ${JSON.stringify(reads.at(-1))})`);

const week = (monday, n) => ({
	Start: new Date(monday.getTime() + n * 7 * 86400000).toISOString(),
	End: new Date(monday.getTime() + (n + 1) * 7 * 86400000).toISOString(),
});

/** Titles of the timed meetings the page shows, sorted. */
const shownTitles = (page) => page.locator('.meeting[data-id]:not(.allday) .meeting-title')
	.evaluateAll((nodes) => nodes.map((n) => n.textContent).sort());

for (const transport of transports) {
	describe(`demo page: crowded hours, weeks read by range, over ${transport}`, { timeout: 90000 }, () => {
		let stack;
		let browser;
		let page;
		let tmp;
		const monday = thisMonday();

		before(async () => {
			stack = await startStack({ env: { POLLHUB_POLL_TIMEOUT: '20', POLLHUB_MAX_ANSWER: String(MAX_ANSWER) } });
			browser = await launchBrowser();
			tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ph-demo-'));
		});
		after(async () => {
			await browser?.close();
			await stack?.stop();
		});
		const test = steps(() => stack, transport);

		test('six meetings in one hour: as many side by side as fit, "+N more" for the rest', async (t) => {
			const seeder = await connect(stack.hubUrl, { transport: 'LongPolling' });
			try {
				for (const m of crowdedHour(monday)) await seeder.invoke('create', m);
			} finally {
				await stopAll(seeder);
			}
			page = await openWindow(browser, `${stack.url}/?transport=${transport}`);
			await waitConnected(page);
			await page.locator('.day[data-day="1"] .meeting[data-id]').first().waitFor();
			const day = await crowdedDay(page);
			t.diagnostic(`900 px window: ${day.cards.length} drawn (${day.cards.map((c) => c.width.toFixed(0)).join(', ')} px), chip "${day.chipText}"`);
			assertCrowdReadable(day, '900 px window');
			assert.deepEqual(await cutTitles(page), []);

			// The screenshot: the chip and the cards are there, drawn where the page says.
			await page.evaluate(() => document.querySelector('.week-scroll').scrollTo({ top: 13 * 44 }));
			const file = path.join(tmp, `crowded-${transport}.png`);
			const png = await page.locator('#week').screenshot({ path: file, animations: 'disabled' });
			t.diagnostic(`screenshot: ${file}`);
			assert.ok(fs.statSync(file).size > 1000, 'screenshot written');
			const origin = await page.locator('#week').boundingBox();
			const inset = (box, rgb) => ({ x: box.x - origin.x + 4, y: box.y - origin.y + 4,
				width: box.width - 8, height: Math.min(box.height, 40) - 8, rgb });
			const chip = await page.locator('.day[data-day="1"] .more-chip').boundingBox();
			const cards = page.locator('.day[data-day="1"] .meeting[data-id]');
			const boxes = [inset(chip, CHIP_BG)];
			for (let i = 0; i < await cards.count(); i++) {
				const bg = await cards.nth(i).evaluate((n) => getComputedStyle(n).backgroundColor.match(/\d+/g).map(Number));
				boxes.push(inset(await cards.nth(i).boundingBox(), bg));
			}
			const shot = await pixelsIn(browser, png, boxes);
			assert.equal(shot.width, Math.round(origin.width));
			for (const [i, region] of shot.regions.entries()) {
				const what = i === 0 ? 'the "+N more" chip' : `card ${i}`;
				assert.ok(region.share > 0.4, `${what} is not visible in the screenshot (${(region.share * 100).toFixed(0)} % of its colour)`);
				assert.ok(region.dark > 10, `${what} has no text in the screenshot`);
			}
			assert.deepEqual(page.problems, []);
		});

		test('"+N more" lists the others; each opens in the editor; keyboard and ARIA', async (t) => {
			const chip = page.locator('.day[data-day="1"] .more-chip');
			const shown = (await crowdedDay(page)).cards.map((c) => c.title);
			assert.equal(await chip.getAttribute('aria-expanded'), 'false');
			assert.equal(await chip.getAttribute('aria-haspopup'), 'dialog');
			await chip.click();
			const list = page.locator('.more-list');
			await list.waitFor({ state: 'visible' });
			assert.equal(await chip.getAttribute('aria-expanded'), 'true');
			const listed = await list.locator('.more-item .more-item-title').allTextContents();
			assert.equal(listed.length, CROWD.length - shown.length);
			assert.deepEqual([...shown, ...listed].sort(), [...CROWD].sort(), 'drawn and listed: each meeting once');
			assert.match(await list.locator('.more-heading').textContent(), new RegExp(`^${listed.length} more · Tuesday`));
			const file = path.join(tmp, `crowded-list-${transport}.png`);
			await page.screenshot({ path: file, animations: 'disabled' });
			t.diagnostic(`screenshot: ${file}`);
			// Keyboard: the first meeting has the focus, the arrows move it, Escape closes.
			assert.equal(await page.evaluate(() => document.activeElement.classList.contains('more-item')), true);
			await page.keyboard.press('ArrowDown');
			assert.equal(await page.evaluate(() => document.activeElement.textContent), await list.locator('.more-item').nth(1).textContent());
			await page.keyboard.press('Escape');
			await list.waitFor({ state: 'hidden' });
			assert.equal(await chip.getAttribute('aria-expanded'), 'false');
			assert.equal(await page.evaluate(() => document.activeElement.classList.contains('more-chip')), true);
			// Enter on the chip opens it again; a pick opens that meeting in the editor.
			await page.keyboard.press('Enter');
			await list.waitFor({ state: 'visible' });
			await list.locator('.more-item').nth(1).click();
			await list.waitFor({ state: 'hidden' });
			await page.locator('#editor').waitFor({ state: 'visible' });
			assert.equal(await page.locator('#meeting-title').inputValue(), listed[1]);
			await page.locator('#meeting-cancel').click();
			// A drawn card opens from the keyboard too.
			await page.locator('.day[data-day="1"] .meeting[data-id]').first().focus();
			await page.keyboard.press('Enter');
			await page.locator('#editor').waitFor({ state: 'visible' });
			assert.equal(await page.locator('#meeting-title').inputValue(), shown[0]);
			await page.locator('#meeting-cancel').click();
			await page.locator('#editor').waitFor({ state: 'hidden' });
			assert.deepEqual(page.problems, []);
		});

		test('a wider window draws more of them side by side', async (t) => {
			await page.setViewportSize({ width: 1280, height: 640 });
			await page.waitForFunction(() => document.querySelectorAll('.day[data-day="1"] .meeting[data-id]').length === 2);
			const day = await crowdedDay(page);
			t.diagnostic(`1280 px window: ${day.cards.length} drawn (${day.cards.map((c) => c.width.toFixed(0)).join(', ')} px), chip "${day.chipText}"`);
			assertCrowdReadable(day, '1280 px window');
			await page.setViewportSize({ width: 900, height: 640 });
			await page.waitForFunction(() => document.querySelectorAll('.day[data-day="1"] .meeting[data-id]').length === 1);
		});

		test('a calendar of many weeks: the page reads the week it shows, { Start, End }', async () => {
			// Seven meetings a week at 08:00, from 30 weeks back to 30 ahead: the whole
			// calendar is far larger than one answer may be (read() is refused).
			const group = await stack.psql('SELECT group_name FROM pollhub.meetings LIMIT 1');
			await page.context().close();
			await stack.psql(`INSERT INTO pollhub.meetings (group_name, title, start_at, end_at)
				SELECT '${group}', 'Week ' || w || ' day ' || d,
					'${monday.toISOString()}'::timestamptz + make_interval(weeks => w, days => d, hours => 8),
					'${monday.toISOString()}'::timestamptz + make_interval(weeks => w, days => d, hours => 9)
				FROM generate_series(-30, 30) w, generate_series(0, 6) d`);
			const reader = await connect(stack.hubUrl, { transport: 'LongPolling' });
			try {
				await assert.rejects(reader.invoke('read'), /The calendar is too large to send/);
			} finally {
				await stopAll(reader);
			}
			page = await openWindow(browser, `${stack.url}/?transport=${transport}`);
			const reads = recordReads(page);
			await page.reload();
			await waitConnected(page);
			assert.deepEqual(reads, [week(monday, 0)]);
			const titles = await shownTitles(page);
			assert.deepEqual(titles.filter((x) => x.startsWith('Week ')), [0, 1, 2, 3, 4, 5, 6].map((d) => `Week 0 day ${d}`));
			assert.equal(titles.filter((x) => CROWD.includes(x)).length, 1, 'the crowded hour as before');
			assert.equal(await page.locator('.day[data-day="1"] .more-chip').textContent(), '+5 more');
			assert.deepEqual(page.problems, []);
		});

		test('the next week is read with the next range, and its meetings are shown', async () => {
			const reads = recordReads(page);
			await page.locator('#next-week').click();
			await lastReadIs(reads, week(monday, 1));
			await page.locator('.meeting', { hasText: 'Week 1 day 0' }).waitFor();
			assert.deepEqual(reads, [week(monday, 1)]);
			assert.deepEqual(await shownTitles(page), [0, 1, 2, 3, 4, 5, 6].map((d) => `Week 1 day ${d}`));
			// Three weeks back in a row: the last read is for the week shown (those asked
			// for while one is out are one read).
			for (let i = 0; i < 3; i++) await page.locator('#prev-week').click();
			await lastReadIs(reads, week(monday, -2));
			assert.ok(reads.length <= 4, `${reads.length} reads for 3 clicks`);
			await page.waitForFunction(() => document.querySelectorAll('.meeting[data-id]').length === 7);
			assert.deepEqual(await shownTitles(page), [0, 1, 2, 3, 4, 5, 6].map((d) => `Week -2 day ${d}`));
			await page.locator('#today').click();
			await lastReadIs(reads, week(monday, 0));
			await page.locator('.day[data-day="1"] .more-chip').waitFor();
			assert.deepEqual(page.problems, []);
		});

		test('pushes of meetings outside the week shown leave it as it is', async () => {
			const before = await shownTitles(page);
			const writer = await connect(stack.hubUrl, { transport: 'LongPolling' });
			let far;
			try {
				far = await writer.invoke('create', { ...seedMeetings(monday)[0], Title: 'Offsite',
					Start: at(monday, 5 * 7 + 2, 10), End: at(monday, 5 * 7 + 2, 12) });
				await page.locator('.k-notification', { hasText: 'New meeting: Offsite' }).waitFor();
				assert.deepEqual(await shownTitles(page), before);
				// A meeting of this week moved to another: it leaves the week shown.
				const stored = (await page.evaluate(() => [...document.querySelectorAll('.meeting[data-id]')]
					.map((n) => ({ id: n.dataset.id, title: n.querySelector('.meeting-title').textContent }))))
					.find((m) => m.title === 'Week 0 day 4');
				await writer.invoke('update', { ...seedMeetings(monday)[0], ID: stored.id, Title: 'Week 0 day 4',
					Start: at(monday, 3 * 7 + 4, 8), End: at(monday, 3 * 7 + 4, 9) });
				await page.locator(`.meeting[data-id="${stored.id}"]`).waitFor({ state: 'detached' });
				assert.deepEqual(await shownTitles(page), before.filter((x) => x !== 'Week 0 day 4'));
			} finally {
				await stopAll(writer);
			}
			// Five weeks ahead, read there.
			const reads = recordReads(page);
			for (let i = 0; i < 5; i++) await page.locator('#next-week').click();
			await lastReadIs(reads, week(monday, 5));
			await page.locator(`.meeting[data-id="${far.ID}"]`).waitFor();
			assert.equal(await page.locator('.meeting[data-id]').count(), 8);
			assert.deepEqual(page.problems, []);
		});
	});
}
