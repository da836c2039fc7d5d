// The responder raises its own soft descriptor limit (issue 18 item 6): started by a web
// server or spawn-fcgi it inherits what it is given, often a soft limit of 1,024, under
// which it held about 1,000 clients. At start-up it raises the soft limit to the hard
// one and logs both. Started here through a shell that lowers the soft limit to 1,024.
// Database and process only: one combination of the matrix (lighttpd + LongPolling).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, repoRoot, transportName } from './stack.mjs';

const web = process.env.POLLHUB_TEST_WEB || 'lighttpd';
const skip = (web !== 'lighttpd' || transportName !== 'LongPolling') &&
	`process only: runs with lighttpd + LongPolling (this run: ${web} + ${transportName})`;

/** The "Max open files" soft and hard limits of a process. */
function limits(pid) {
	const line = fs.readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
	const [soft, hard] = line.replace('Max open files', '').trim().split(/\s+/);
	return { soft, hard };
}

describe('the soft descriptor limit', { timeout: 60000, skip }, () => {
	let stack, dir, saved;
	before(async () => {
		const real = path.resolve(repoRoot, process.env.POLLHUB_BIN || 'build/pollhub');
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ph-fdlimit-'));
		const wrapper = path.join(dir, 'pollhub');
		fs.writeFileSync(wrapper, `#!/bin/bash\nulimit -Sn 1024 || exit 3\nexec ${JSON.stringify(real)} "$@"\n`, { mode: 0o755 });
		saved = process.env.POLLHUB_BIN;
		process.env.POLLHUB_BIN = wrapper;
		try {
			stack = await startStack();
		} finally {
			if (saved === undefined) delete process.env.POLLHUB_BIN;
			else process.env.POLLHUB_BIN = saved;
		}
	});
	after(async () => {
		await stack?.stop();
		if (dir) fs.rmSync(dir, { recursive: true, force: true });
	});

	it('is raised to the hard limit at start-up, and both are logged', async () => {
		const hard = limits(process.pid).hard;
		const pid = stack.responderPids()[0];
		const now = limits(pid);
		const log = fs.readFileSync(path.join(stack.runDir, 'pollhub.log'), 'utf8');
		const line = log.split('\n').find((l) => /descriptor limit/.test(l)) || '(none)';
		assert.equal(now.soft, now.hard, `the responder's soft limit is its hard one: ${JSON.stringify(now)}`);
		if (hard === '1024' || hard === 'unlimited') {
			assert.match(line, /pollhub\[info\] descriptor limit: soft \S+, hard \S+/);
		} else {
			assert.equal(now.hard, hard);
			assert.match(line, new RegExp(`pollhub\\[info\\] descriptor limit: soft 1024, hard ${hard}: soft raised to the hard$`));
		}
	});
});
