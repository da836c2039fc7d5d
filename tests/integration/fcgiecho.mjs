#!/usr/bin/env node
// A throwaway FastCGI responder for tests of what a web server passes to the responder
// (webauth.test.mjs: HTTP_AUTHORIZATION, REMOTE_USER): it answers every request with
// status 400 (what pollhub answers a poll without id, so stack.mjs's readiness check
// passes) and a JSON object of the request's FastCGI params as its body.
// It listens on the unix socket POLLHUB_SOCKET, or, without it, on fd 0 (a socket
// mod_fcgid passes, as to pollhub). It exits on SIGTERM.
import net from 'node:net';
import fs from 'node:fs';

const T = { BEGIN: 1, END: 3, PARAMS: 4, STDIN: 5, STDOUT: 6 };

function record(type, id, content) {
	const h = Buffer.from([1, type, id >> 8, id & 255, content.length >> 8, content.length & 255, 0, 0]);
	return Buffer.concat([h, content]);
}

/** The name-value pairs of a PARAMS stream. */
function pairs(buf) {
	const out = {};
	let i = 0;
	const len = () => {
		if (buf[i] < 128) return buf[i++];
		const n = ((buf[i] & 0x7f) << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3];
		i += 4;
		return n;
	};
	while (i < buf.length) {
		const n = len(), v = len();
		out[buf.subarray(i, i + n).toString('latin1')] = buf.subarray(i + n, i + n + v).toString('latin1');
		i += n + v;
	}
	return out;
}

function serve(sock) {
	let buf = Buffer.alloc(0);
	let params = [], keep = false;
	sock.on('error', () => {});
	sock.on('data', (d) => {
		buf = Buffer.concat([buf, d]);
		while (buf.length >= 8) {
			const type = buf[1], id = (buf[2] << 8) | buf[3];
			const len = (buf[4] << 8) | buf[5], pad = buf[6];
			if (buf.length < 8 + len + pad) break;
			const content = buf.subarray(8, 8 + len);
			buf = buf.subarray(8 + len + pad);
			if (type === T.BEGIN) {
				params = [];
				keep = (content[2] & 1) === 1;
			} else if (type === T.PARAMS && len) {
				params.push(content);
			} else if (type === T.STDIN && !len) {
				const body = Buffer.from(JSON.stringify(pairs(Buffer.concat(params))));
				const head = Buffer.from(`Status: 400 Bad Request\r\nContent-Type: application/json\r\n` +
					`Content-Length: ${body.length}\r\n\r\n`);
				const out = Buffer.concat([head, body]);
				const chunks = [];
				for (let o = 0; o < out.length; o += 65535) chunks.push(record(T.STDOUT, id, out.subarray(o, o + 65535)));
				chunks.push(record(T.STDOUT, id, Buffer.alloc(0)));
				chunks.push(record(T.END, id, Buffer.alloc(8)));
				sock.write(Buffer.concat(chunks));
				if (!keep) sock.end();
			}
		}
	});
}

const server = net.createServer(serve);
const path = process.env.POLLHUB_SOCKET;
if (path) {
	fs.rmSync(path, { force: true });
	server.listen(path, () => fs.chmodSync(path, 0o666));
} else {
	server.listen({ fd: 0 });
}
process.on('SIGTERM', () => process.exit(0));
