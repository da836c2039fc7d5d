// Helpers for the browser tests: Debian's Chromium driven by playwright-core (its own
// browser download cannot work here), a temporary docroot for test pages, and the
// transports to test.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const here = path.dirname(fileURLToPath(import.meta.url));
const testsDir = path.resolve(here, '..');

/** The transports under test: env POLLHUB_TEST_TRANSPORT, else both. */
export const transports = process.env.POLLHUB_TEST_TRANSPORT
	? [process.env.POLLHUB_TEST_TRANSPORT]
	: ['LongPolling', 'ServerSentEvents'];

/** Headless Chromium (POLLHUB_CHROMIUM, default /usr/bin/chromium); as root it needs --no-sandbox. */
export function launchBrowser() {
	return chromium.launch({
		executablePath: process.env.POLLHUB_CHROMIUM || '/usr/bin/chromium',
		headless: true,
		args: ['--no-sandbox'],
	});
}

/**
 * A docroot for test pages: `files` (names in tests/browser/) and the npm packages
 * `modules` (from tests/node_modules) under node_modules/, all as symlinks. Returns
 * { dir, remove }.
 */
export function makeDocroot(files, modules) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ph-www-'));
	// The web server may run as another user: let it read the directory.
	fs.chmodSync(dir, 0o755);
	for (const file of files) fs.symlinkSync(path.join(here, file), path.join(dir, file));
	for (const mod of modules) {
		const link = path.join(dir, 'node_modules', mod);
		fs.mkdirSync(path.dirname(link), { recursive: true });
		fs.symlinkSync(path.join(testsDir, 'node_modules', mod), link);
	}
	return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A window: a fresh browser context (its own cookies and storage, like another
 * person's browser) with one page whose errors are collected in page.problems.
 * opts.httpCredentials ({ username, password }): what the person types when the site asks
 * for a user (HTTP basic authentication); the browser answers the challenge with it.
 */
export async function openWindow(browser, url, opts = {}) {
	const context = await browser.newContext({
		viewport: opts.viewport || { width: 900, height: 640 },
		timezoneId: opts.timezoneId || 'UTC',
		locale: 'en-US',
		...(opts.httpCredentials ? { httpCredentials: opts.httpCredentials } : {}),
	});
	context.setDefaultTimeout(opts.timeout || 5000);
	context.setDefaultNavigationTimeout(30000);	// a loaded machine parses the demo's 2 MB slowly
	const page = await context.newPage();
	page.problems = [];
	page.on('pageerror', (err) => page.problems.push(`page error: ${err.message}`));
	page.on('console', (msg) => {
		if (msg.type() === 'error') page.problems.push(`console error: ${msg.text()}`);
	});
	page.on('response', (res) => {
		if (res.status() >= 400) page.problems.push(`${res.status()} for ${res.request().method()} ${res.url()}`);
	});
	page.on('requestfailed', (req) => {
		// A poll or stream cut when the window closes is expected; a page resource is not.
		if (!req.url().includes('/meetings')) page.problems.push(`request failed: ${req.url()}`);
	});
	await page.goto(url);
	return page;
}

/**
 * Whether the hub offers `transport` in its negotiate answer (used to skip, loudly).
 * headers: sent with both requests (a stack behind basic authentication: stack.authHeaders).
 */
export async function hubOffers(hubUrl, transport, headers = {}) {
	const r = await fetch(`${hubUrl}/negotiate?negotiateVersion=1`, { method: 'POST', headers });
	const body = await r.json();
	if (body.connectionToken)
		await fetch(`${hubUrl}?id=${encodeURIComponent(body.connectionToken)}`, { method: 'DELETE', headers });
	return (body.availableTransports || []).some((t) => t.transport === transport);
}

/**
 * A test() for steps that build on each other: after a failure the rest are skipped, as
 * they are when the hub does not offer the transport. getStack() returns the started stack.
 */
export function steps(getStack, transport) {
	let failed = false;
	return (name, fn) => it(name, async (t) => {
		const stack = getStack();
		if (failed) return t.skip('an earlier step failed');
		if (!(await hubOffers(stack.hubUrl, transport, stack.authHeaders || {})))
			return t.skip(`the hub does not offer ${transport}`);
		try {
			return await stack.guard(fn)(t);
		} catch (e) {
			failed = true;
			throw e;
		}
	});
}

// --- Shared by the Kendo DataSource tests (datasource.test.mjs, classic-datasource.test.mjs):
// the harness page (datasource.js, classic-datasource.js) exposes harness.rows() and
// harness.pushes.

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const PUSH_DEADLINE_MS = Number(process.env.POLLHUB_PUSH_DEADLINE_MS) || 1000;

/** The meeting a Node client creates before the windows read. */
export const seedMeeting = {
	ID: null, Title: 'Seeded', Start: '2026-11-23T08:00:00.000Z', End: '2026-11-23T09:00:00.000Z',
	IsAllDay: false, Description: 'from a Node client', RecurrenceRule: '', RecurrenceID: null,
	RecurrenceException: '', StartTimezone: '', EndTimezone: '', RoomID: 1, Attendees: [1, 2],
};

/** A window's rows without the per-window `dirty` flag, sorted by ID. */
export const comparable = (rows) => rows.map(({ dirty, ...row }) => row).sort((a, b) => a.ID.localeCompare(b.ID));

/* global harness */
export const rowsOf = (page) => page.evaluate(() => harness.rows());

/** Waits for a push of `type` carrying `id` in `page`; returns the ms from t0 to its arrival. */
export async function pushSeen(page, type, id, t0) {
	const push = await page.waitForFunction(([ty, i]) => harness.pushes.find((p) => p.type === ty && p.ids.includes(i)),
		[type, id], { timeout: 5000, polling: 50 })
		.then((handle) => handle.jsonValue())
		.catch(() => { throw new Error(`no ${type} push for ${id}`); });
	const ms = push.at - t0;
	assert.ok(ms < PUSH_DEADLINE_MS, `the ${type} push arrived after ${ms} ms (limit ${PUSH_DEADLINE_MS})`);
	return ms;
}
