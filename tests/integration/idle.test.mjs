// A quiet connection stays up: over ServerSentEvents the server's pings (every 15 s
// by default) keep the client's 30 s server timeout from firing; over LongPolling the
// poll cycle does. Its own file, so its 40 s run beside the other suites.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, connect, stopAll, sleep, waitFor, transportName } from './stack.mjs';

describe(`an idle ${transportName} client`, { timeout: 90000 }, () => {
	let stack;
	before(async () => { stack = await startStack(); });
	after(async () => { await stack?.stop(); });

	it('stays connected for 40 s, then invokes and receives pushes', async () => stack.guard(async () => {
		const closed = [];
		const a = await connect(stack.hubUrl);
		const b = await connect(stack.hubUrl);
		a.onclose((e) => closed.push(`a: ${e?.message}`));
		b.onclose((e) => closed.push(`b: ${e?.message}`));
		try {
			await sleep(40000);
			assert.deepEqual(closed, []);
			assert.equal(a.state, 'Connected');
			assert.equal(b.state, 'Connected');
			const m = await a.invoke('create', {
				ID: null, Title: 'After a quiet while', Start: '2026-11-26T09:00:00Z',
				End: '2026-11-26T09:30:00Z', IsAllDay: false,
			});
			await waitFor(() => b.pushes.count('create') === 1, 5000, 'the push to b');
			assert.equal(b.pushes.payloads('create')[0].ID, m.ID);
		} finally {
			await stopAll(a, b);
		}
	})());
});
