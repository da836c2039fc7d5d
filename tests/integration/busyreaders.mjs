// Worker of busycal.test.mjs: workerData { hubUrl, group, n, stall } opens n raw
// server-sent-events clients of group (negotiate, stream, handshake), in its own
// thread so that reading them does not starve the test's innocent client. Messages:
// posts { ready } once all are open (or { error }); on 'report' posts { report } with,
// per client, how many times each create title came and whether the stream ended;
// on 'close' closes them all and posts { closed }.
import { parentPort, workerData } from 'node:worker_threads';
import http from 'node:http';

const RS = '\x1e';
const HANDSHAKE = `{"protocol":"json","version":1}${RS}`;
const { hubUrl, group, n, stall } = workerData;
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function request(url, { method = 'GET', body } = {}) {
	return new Promise((resolve, reject) => {
		const req = http.request(url, { method, agent }, (res) => {
			res.setEncoding('utf8');
			let text = '';
			res.on('data', (c) => { text += c; });
			res.on('end', () => resolve({ status: res.statusCode, body: text }));
		});
		req.on('error', reject);
		req.end(body);
	});
}

const TITLE = /"target"\s*:\s*"create"[^]*?"Title"\s*:\s*"([^"]*)"/;

class Client {
	constructor() {
		this.titles = {};
		this.handshaken = false;
		this.ended = null;
		this.buf = '';
		this.from = 0;	// where to look for the next event's end
	}

	async open() {
		const neg = await request(`${hubUrl}/negotiate?negotiateVersion=1&group=${group}`, { method: 'POST' });
		if (neg.status !== 200) throw new Error(`negotiate answered ${neg.status}`);
		const url = `${hubUrl}?id=${encodeURIComponent(JSON.parse(neg.body).connectionToken)}`;
		await new Promise((resolve, reject) => {
			const req = http.request(url, { headers: { Accept: 'text/event-stream' }, agent }, (res) => {
				if (res.statusCode !== 200) { res.resume(); reject(new Error(`stream answered ${res.statusCode}`)); return; }
				this.res = res;
				res.setEncoding('utf8');
				res.on('data', (c) => this.data(c));
				res.on('close', () => { this.ended ||= 'stream ended'; });
				res.on('error', () => {});
				resolve();
			});
			req.on('error', reject);
			req.end();
		});
		const h = await request(url, { method: 'POST', body: HANDSHAKE });
		if (h.status !== 200) throw new Error(`handshake answered ${h.status}`);
		for (let i = 0; !this.handshaken; i++) {
			if (i > 600) throw new Error('no handshake answer in 15 s');
			await sleep(25);
		}
	}

	data(chunk) {
		this.buf += chunk;
		let i;
		while ((i = this.buf.indexOf('\r\n\r\n', this.from)) >= 0) {
			const event = this.buf.slice(0, i);
			this.buf = this.buf.slice(i + 4);
			this.from = 0;
			for (const line of event.split('\r\n')) {
				if (!line.startsWith('data: ')) continue;
				for (const rec of line.slice(6).split(RS)) {
					if (rec === '{}') this.handshaken = true;
					const m = TITLE.exec(rec);
					if (m) this.titles[m[1]] = (this.titles[m[1]] || 0) + 1;
				}
			}
		}
		this.from = Math.max(0, this.buf.length - 3);
	}
}

const clients = Array.from({ length: n }, () => new Client());
try {
	for (let i = 0; i < n; i += 50) await Promise.all(clients.slice(i, i + 50).map((c) => c.open()));
	if (stall) for (const c of clients) { c.res.pause(); c.res.socket.pause(); }
	parentPort.postMessage({ ready: true });
} catch (e) {
	parentPort.postMessage({ error: e.message });
}
parentPort.on('message', (m) => {
	if (m === 'report')
		parentPort.postMessage({ report: clients.map((c) => ({ titles: c.titles, ended: c.ended })) });
	else if (m === 'close') {
		for (const c of clients) c.res?.destroy();
		agent.destroy();
		parentPort.postMessage({ closed: true });
	}
});
