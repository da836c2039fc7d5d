// A FastCGI client for tests that speak to the responder's socket directly, as a web
// server would: records written by hand, records received parsed.
import net from 'node:net';

export const T = { BEGIN: 1, ABORT: 2, END: 3, PARAMS: 4, STDIN: 5, STDOUT: 6, GET_VALUES: 9, VALUES_RESULT: 10, UNKNOWN: 11 };

export function record(type, id, content = Buffer.alloc(0), version = 1) {
	const h = Buffer.from([version, type, id >> 8, id & 255, content.length >> 8, content.length & 255, 0, 0]);
	return Buffer.concat([h, content]);
}

export function pair(name, value) {
	const n = Buffer.from(name), v = Buffer.from(value);
	const len = (b) => (b.length < 128 ? Buffer.from([b.length]) :
		Buffer.from([0x80 | (b.length >> 24), (b.length >> 16) & 255, (b.length >> 8) & 255, b.length & 255]));
	return Buffer.concat([len(n), len(v), n, v]);
}

export const begin = (id, keep = 0) => record(T.BEGIN, id, Buffer.from([0, 1, keep, 0, 0, 0, 0, 0]));

/** BEGIN_REQUEST and the params of a GET of the hub (query: without '?'), extra params added. */
export function getRequest(id, query, extra = {}) {
	const p = Buffer.concat([
		pair('REQUEST_METHOD', 'GET'), pair('REQUEST_URI', `/meetings?${query}`), pair('QUERY_STRING', query),
		pair('SCRIPT_NAME', '/meetings'), pair('HTTP_HOST', '127.0.0.1'), pair('SERVER_PROTOCOL', 'HTTP/1.1'),
		...Object.entries(extra).map(([k, v]) => pair(k, v)),
	]);
	return Buffer.concat([begin(id), record(T.PARAMS, id, p), record(T.PARAMS, id)]);
}

/** A connection to socket: { s, records, closed, ready, has(type, id), stdout() }. */
export function fcgiConnect(socket) {
	const c = { records: [], closed: false, buf: Buffer.alloc(0) };
	c.s = net.connect(socket);
	c.s.on('data', (d) => {
		c.buf = Buffer.concat([c.buf, d]);
		while (c.buf.length >= 8) {
			const len = (c.buf[4] << 8) | c.buf[5], pad = c.buf[6];
			if (c.buf.length < 8 + len + pad) break;
			c.records.push({ type: c.buf[1], id: (c.buf[2] << 8) | c.buf[3], content: c.buf.subarray(8, 8 + len) });
			c.buf = c.buf.subarray(8 + len + pad);
		}
	});
	c.s.on('error', () => {});
	c.s.on('close', () => { c.closed = true; });
	c.ready = new Promise((r) => c.s.on('connect', r));
	c.has = (type, id) => c.records.some((r) => r.type === type && (id === undefined || r.id === id));
	c.stdout = () => Buffer.concat(c.records.filter((r) => r.type === T.STDOUT).map((r) => r.content)).toString('utf8');
	return c;
}
