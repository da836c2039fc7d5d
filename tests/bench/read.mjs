// Scenario (e) of tests/bench/run.sh: reading a large calendar by range (issue 21).
// run.sh has loaded the calendar (GROUP, 100,000 meetings over five years) and started
// the responder and lighttpd; this script times MeetingHub.read:
//
//   week        one-week read({Start, End}) of a random week, CALLS times, one after the
//               other, at the responder: a FastCGI request written to its socket as the web
//               server writes it (a classic SignalR 2.x send, whose answer carries the
//               result, so one request is one read), from before connecting until
//               END_REQUEST;
//   week-http   the same through lighttpd (HTTP keep-alive), as a client sees it (the
//               week measurements take turns call by call);
//   week-small  the same at the responder on SMALL_GROUP, a calendar a tenth the size with
//               the same meetings a day (--small-group, --small-weeks): with the indexes, a
//               week costs what it holds, so the two should be alike;
//   grid        a Grid's page: take 20 of a random one of the first 50 pages, sorted by
//               Title, filtered on Title contains "review" (about a fifth of the calendar),
//               at the responder;
//   unranged    read() without a range, refused as too large: what each such refusal
//               costs (the figure issue 21 measured at 400-580 ms);
//   products    ProductHub (a hub written in SQL) with --products-group: the grid page's
//               reads, take 20 of a random one of the first 50 pages sorted by
//               ProductName, filtered on ProductName contains "chai", and the first page
//               sorted CreatedAt desc as the products page opens (issue 21's 30 ms target).
//
//   node tests/bench/read.mjs --hub URL --socket PATH --group G --calls N --json OUT
//
// Prints one line per measurement (p50 / p99 / max ms) and writes OUT: the label
// "read", kind "read", and the figures report.mjs tabulates. Exit 1 when a call failed.
import fs from 'node:fs';
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
	options: {
		hub: { type: 'string' }, socket: { type: 'string' }, group: { type: 'string' },
		calls: { type: 'string', default: '300' }, json: { type: 'string' },
		from: { type: 'string', default: '2024-01-01T00:00:00.000Z' }, weeks: { type: 'string', default: '260' },
		meetings: { type: 'string', default: '0' },
		'small-group': { type: 'string' }, 'small-weeks': { type: 'string', default: '26' },
		'products-group': { type: 'string' }, products: { type: 'string', default: '0' },
	},
});
for (const k of ['hub', 'socket', 'group', 'json'])
	if (!opt[k]) {
		console.error(`usage: node read.mjs --hub URL --socket PATH --group G --calls N --json OUT (missing --${k})`);
		process.exit(2);
	}
const CALLS = Number(opt.calls);
const WEEK = 7 * 86400000;
const CD = JSON.stringify([{ name: 'meetings' }]);
const qs = (o) => new URLSearchParams(o).toString();
const hubPath = new URL(opt.hub).pathname;
const errors = [];

// ------------------------------------------------------------------ FastCGI

function pair(name, value) {
	const n = Buffer.from(name), v = Buffer.from(value);
	const len = (b) => (b.length < 128 ? Buffer.from([b.length])
		: Buffer.from([0x80 | (b.length >> 24), (b.length >> 16) & 255, (b.length >> 8) & 255, b.length & 255]));
	return Buffer.concat([len(n), len(v), n, v]);
}
function record(type, content = Buffer.alloc(0)) {
	if (content.length > 65535) throw new Error('a FastCGI record of more than 65535 bytes');
	return Buffer.concat([Buffer.from([1, type, 0, 1, content.length >> 8, content.length & 255, 0, 0]), content]);
}

/** One POST to path?query with body, written to the responder's socket: { ms, status, body }. */
function fcgiPost(path, query, body) {
	const params = Buffer.concat([
		pair('REQUEST_METHOD', 'POST'), pair('REQUEST_URI', `${path}?${query}`), pair('QUERY_STRING', query),
		pair('SCRIPT_NAME', path), pair('HTTP_HOST', '127.0.0.1'), pair('SERVER_PROTOCOL', 'HTTP/1.1'),
		pair('REMOTE_ADDR', '127.0.0.1'), pair('CONTENT_TYPE', 'application/x-www-form-urlencoded; charset=UTF-8'),
		pair('CONTENT_LENGTH', String(Buffer.byteLength(body))),
	]);
	const req = Buffer.concat([record(1, Buffer.from([0, 1, 0, 0, 0, 0, 0, 0])), record(4, params), record(4),
		record(5, Buffer.from(body)), record(5)]);
	return new Promise((resolve, reject) => {
		const t0 = process.hrtime.bigint();
		const s = net.connect(opt.socket);
		let buf = Buffer.alloc(0);
		const out = [];
		s.on('connect', () => s.write(req));
		s.on('data', (d) => {
			buf = Buffer.concat([buf, d]);
			while (buf.length >= 8) {
				const len = (buf[4] << 8) | buf[5], pad = buf[6];
				if (buf.length < 8 + len + pad) break;
				const type = buf[1];
				if (type === 6) out.push(buf.subarray(8, 8 + len));
				buf = buf.subarray(8 + len + pad);
				if (type === 3) {
					const ms = Number(process.hrtime.bigint() - t0) / 1e6;
					s.destroy();
					const text = Buffer.concat(out).toString('utf8');
					const sep = text.indexOf('\r\n\r\n');
					const head = text.slice(0, sep);
					const status = Number((/^Status: (\d+)/mi.exec(head) || [0, 200])[1]);
					resolve({ ms, status, body: text.slice(sep + 4) });
					return;
				}
			}
		});
		s.on('error', reject);
	});
}

// ------------------------------------------------------------------ the classic connection

async function classicConnection(group, proxy = 'meetings') {
	const cd = JSON.stringify([{ name: proxy }]);
	const neg = await (await fetch(`${opt.hub}/negotiate?${qs({ clientProtocol: '2.1', connectionData: cd, group })}`)).json();
	const params = { transport: 'longPolling', clientProtocol: '2.1', connectionToken: neg.ConnectionToken, connectionData: cd };
	const form = { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' };
	let r = await fetch(`${opt.hub}/connect?${qs(params)}`, { method: 'POST', headers: form, body: '' });
	if (r.status !== 200) throw new Error(`connect answered ${r.status}: ${await r.text()}`);
	r = await fetch(`${opt.hub}/start?${qs(params)}`);
	if (r.status !== 200) throw new Error(`start answered ${r.status}: ${await r.text()}`);
	let n = 0;
	const data = (arg) => qs({ data: JSON.stringify({ H: proxy, M: 'read', A: arg === undefined ? [] : [arg], I: n++ }) });
	return {
		/** read(arg) at the responder's socket: { ms, result, error, bytes }. */
		async direct(arg) {
			const a = await fcgiPost(`${hubPath}/send`, qs(params), data(arg));
			if (a.status !== 200) return { ms: a.ms, error: `HTTP ${a.status}: ${a.body.slice(0, 200)}` };
			const j = JSON.parse(a.body);
			return { ms: a.ms, result: j.R, error: j.E, bytes: Buffer.byteLength(a.body) };
		},
		/** read(arg) through the web server. */
		async http(arg) {
			const t0 = process.hrtime.bigint();
			const res = await fetch(`${opt.hub}/send?${qs(params)}`, { method: 'POST', headers: form, body: data(arg) });
			const text = await res.text();
			const ms = Number(process.hrtime.bigint() - t0) / 1e6;
			if (res.status !== 200) return { ms, error: `HTTP ${res.status}: ${text.slice(0, 200)}` };
			const j = JSON.parse(text);
			return { ms, result: j.R, error: j.E, bytes: Buffer.byteLength(text) };
		},
	};
}

// ------------------------------------------------------------------ measuring

function stats(ms) {
	const v = [...ms].sort((a, b) => a - b);
	const at = (p) => v[Math.min(v.length - 1, Math.ceil(p * v.length) - 1)];
	return v.length ? { n: v.length, p50: at(0.5), p99: at(0.99), max: v.at(-1), mean: v.reduce((a, b) => a + b, 0) / v.length } : null;
}

// Deterministic "random" weeks and pages: every run reads the same ones.
let seed = 21;
const rand = (n) => {
	seed = (seed * 1103515245 + 12345) % 2147483648;
	return seed % n;
};
const from = Date.parse(opt.from);
const weekArg = (weeks = Number(opt.weeks)) => {
	const s = from + rand(weeks) * WEEK;
	return { Start: new Date(s).toISOString(), End: new Date(s + WEEK).toISOString() };
};

/** A measurement: add() each call's outcome, done() prints it and returns its figures. */
function measurement(name) {
	const ms = [];
	let rows = 0, bytes = 0, total = null;
	return {
		add(r) {
			if (r.error || r.result === undefined) {
				errors.push(`${name}: ${r.error || 'no result'}`);
				return false;
			}
			ms.push(r.ms);
			const data = Array.isArray(r.result) ? r.result : r.result.Data;
			rows += data.length;
			bytes += r.bytes;
			if (!Array.isArray(r.result)) total = r.result.Total;
			return true;
		},
		done() {
			const s = stats(ms);
			const out = { n: ms.length, ...(s || {}), rows_avg: ms.length ? rows / ms.length : null,
				bytes_avg: ms.length ? bytes / ms.length : null, total };
			const f = (x) => (x === undefined || x === null ? '-' : x.toFixed(1));
			console.log(`  ${name}: ${ms.length} calls, p50 ${f(s?.p50)} / p99 ${f(s?.p99)} / max ${f(s?.max)} ms, `
				+ `${Math.round(out.rows_avg ?? 0)} rows (${Math.round((out.bytes_avg ?? 0) / 1024)} KiB) each`
				+ `${total !== null ? `, Total ${total}` : ''}`);
			return out;
		},
	};
}

// The week measurements take turns, call by call, so that the machine's ups and downs (two
// CPUs shared with PostgreSQL and lighttpd) fall on each alike; every connection is used
// all along (a classic connection that neither polls nor sends for a while is reaped).
const warm = async (c, argOf) => { for (let i = 0; i < 5; i++) await c.direct(argOf()); return c; };
const smallArg = () => weekArg(Number(opt['small-weeks']));
const cBig = await warm(await classicConnection(opt.group), () => weekArg());
const cSmall = opt['small-group'] ? await warm(await classicConnection(opt['small-group']), smallArg) : null;
const mWeek = measurement('week at the responder');
const mHttp = measurement('week through lighttpd');
const mSmall = cSmall ? measurement('week at the responder, calendar a tenth the size') : null;
for (let i = 0; i < CALLS && errors.length <= 5; i++) {
	mWeek.add(await cBig.direct(weekArg()));
	mHttp.add(await cBig.http(weekArg()));
	if (cSmall) mSmall.add(await cSmall.direct(smallArg()));
}
const week = mWeek.done();
const weekHttp = mHttp.done();
const weekSmall = mSmall ? mSmall.done() : null;
const gridArg = () => ({
	take: 20, skip: 20 * rand(50), page: 1, pageSize: 20, sort: [{ field: 'Title', dir: 'asc' }],
	filter: { logic: 'and', filters: [{ field: 'Title', operator: 'contains', value: 'review' }] },
});
const cGrid = await warm(await classicConnection(opt.group), gridArg);
const mGrid = measurement('grid page at the responder');
for (let i = 0; i < CALLS && errors.length <= 5; i++) mGrid.add(await cGrid.direct(gridArg()));
const grid = mGrid.done();
const c = await classicConnection(opt.group);
const unranged = [];
for (let i = 0; i < 3; i++) {
	const r = await c.direct(undefined);
	if (!/too large to send/.test(r.error || '')) errors.push(`unranged read: ${r.error || 'answered'}`);
	unranged.push(r.ms);
}
const u = stats(unranged);
let products = null, productsFirst = null;
if (opt['products-group']) {
	const pArg = () => ({
		take: 20, skip: 20 * rand(50), page: 1, pageSize: 20, sort: [{ field: 'ProductName', dir: 'asc' }],
		filter: { logic: 'and', filters: [{ field: 'ProductName', operator: 'contains', value: 'chai' }] },
	});
	const firstArg = () => ({ take: 10, skip: 0, page: 1, pageSize: 10, sort: [{ field: 'CreatedAt', dir: 'desc' }] });
	const cp = await warm(await classicConnection(opt['products-group'], 'productHub'), pArg);
	const mP = measurement('products grid page at the responder');
	const mF = measurement('products first page (CreatedAt desc) at the responder');
	for (let i = 0; i < CALLS && errors.length <= 5; i++) {
		mP.add(await cp.direct(pArg()));
		mF.add(await cp.direct(firstArg()));
	}
	products = mP.done();
	productsFirst = mF.done();
}
console.log(`  read() without a range, refused: p50 ${u.p50.toFixed(1)} ms over ${u.n} calls`);
for (const e of errors.slice(0, 5)) console.log(`  ! ${e}`);

fs.writeFileSync(opt.json, JSON.stringify({
	label: 'read', kind: 'read', meetings: Number(opt.meetings), group: opt.group,
	week, week_http: weekHttp, week_small: weekSmall, grid, unranged: u, errors: errors.length,
	products, products_first: productsFirst, product_count: Number(opt.products),
	targets: { week_p99_ms: 20, products_p99_ms: 30 },
}) + '\n');
process.exit(errors.length ? 1 : 0);
