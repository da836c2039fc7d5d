// Helpers for the browser tests: Debian's Chromium driven by playwright-core (its own
// browser download cannot work here), a temporary docroot for test pages, and the
// transports to test.
import { it } from 'node:test';
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
 */
export async function openWindow(browser, url, opts = {}) {
	const context = await browser.newContext({
		viewport: opts.viewport || { width: 900, height: 640 },
		timezoneId: opts.timezoneId || 'UTC',
		locale: 'en-US',
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

/** Whether the hub offers `transport` in its negotiate answer (used to skip, loudly). */
export async function hubOffers(hubUrl, transport) {
	const r = await fetch(`${hubUrl}/negotiate?negotiateVersion=1`, { method: 'POST' });
	const body = await r.json();
	if (body.connectionToken)
		await fetch(`${hubUrl}?id=${encodeURIComponent(body.connectionToken)}`, { method: 'DELETE' });
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
		if (!(await hubOffers(stack.hubUrl, transport)))
			return t.skip(`the hub does not offer ${transport}`);
		try {
			return await stack.guard(fn)(t);
		} catch (e) {
			failed = true;
			throw e;
		}
	});
}
