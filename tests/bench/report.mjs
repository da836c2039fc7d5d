// Collects the runs of tests/bench/run.sh (loadgen JSON, pgbench and idle measurements,
// meta.json) into one results.json and prints one table: pollhub beside nchan and pgbench.
//
//   node tests/bench/report.mjs RUNS_DIR RESULTS_JSON
import fs from 'node:fs';
import path from 'node:path';

const [runsDir, resultsPath] = process.argv.slice(2);
if (!runsDir || !resultsPath) {
	console.error('usage: node report.mjs RUNS_DIR RESULTS_JSON');
	process.exit(2);
}

const runs = {};
const idle = {};
const sustained = {};
let meta = {};
for (const f of fs.readdirSync(runsDir).sort()) {
	if (!f.endsWith('.json')) continue;
	let v;
	try {
		v = JSON.parse(fs.readFileSync(path.join(runsDir, f), 'utf8'));
	} catch (e) {
		console.error(`report: ${f}: ${e.message}`);
		continue;
	}
	if (f === 'meta.json') meta = v;
	else if (f.endsWith('.idle.json')) idle[v.label] = v;
	else if (f.endsWith('.sustained.json')) sustained[v.label] = v;
	else runs[v.label] = v;
}

const num = (x, d = 1) => (x === null || x === undefined || Number.isNaN(x) ? '-' : Number(x).toFixed(d));
const lat3 = (s) => (s ? `${num(s.p50)} / ${num(s.p99)} / ${num(s.max)}` : '-');
const errs = (r) => {
	if (!r) return 'not run';
	const e = r.errors || {};
	const parts = Object.entries(e).filter(([k, v]) => k !== 'total' && v > 0).map(([k, v]) => `${k} ${v}`);
	const st = Object.entries(r.http_status || {}).map(([k, v]) => `HTTP ${k} ×${v}`);
	let s = parts.concat(st).join(', ') || 'none';
	if (r.aborted) s += ` (ABORTED: ${r.aborted})`;
	return s;
};
const delivered = (r) => (r ? `${r.deliveries.received}/${r.deliveries.expected}` : '-');

function table(title, head, rows) {
	const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
	const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd();
	console.log(`\n${title}`);
	console.log(line(head));
	console.log(line(widths.map((w) => '-'.repeat(w))));
	for (const r of rows) console.log(line(r));
}

const results = { meta, fanout: [], throughput: [], idle: [], runs, idle_measurements: idle };

// (a) fan-out
const sizes = [...new Set(Object.values(runs).filter((r) => r.label?.startsWith('fanout-'))
	.map((r) => r.clients))].sort((a, b) => a - b);
const fanRows = [];
for (const n of sizes) {
	for (const t of ['lp', 'sse']) {
		const ph = runs[`fanout-pollhub-${t}-${n}`];
		const nc = runs[`fanout-nchan-${t}-${n}`];
		if (!ph && !nc) continue;
		const pick = (r) => r && {
			per_message_median_ms: r.per_message_median_ms,
			latency_ms: r.latency_ms,
			delivered: r.deliveries.received, expected: r.deliveries.expected,
			ready: r.setup.ready, connect_ms: r.setup.connect_ms,
			errors: r.errors.total, aborted: r.aborted, ok: r.ok,
		};
		results.fanout.push({ group_size: n, transport: t, messages: (ph || nc).messages, pollhub: pick(ph), nchan: pick(nc) });
		fanRows.push([n, t === 'lp' ? 'LP' : 'SSE/ES',
			lat3(ph?.per_message_median_ms), num(ph?.per_message_median_ms?.all_delivered), delivered(ph),
			lat3(nc?.per_message_median_ms), num(nc?.per_message_median_ms?.all_delivered), delivered(nc),
			`pollhub: ${errs(ph)}; nchan: ${errs(nc)}`]);
	}
}
if (fanRows.length)
	table('(a) Fan-out: one create to every other member of a group; per message p50 / p99 / max ms, median over messages',
		['size', 'transport', 'pollhub p50/p99/max', 'all in', 'delivered', 'nchan p50/p99/max', 'all in', 'delivered', 'errors'],
		fanRows);

// (b) throughput
const callers = [...new Set(Object.values(runs).filter((r) => r.label?.startsWith('throughput-'))
	.map((r) => r.clients))].sort((a, b) => a - b);
const tpRows = [];
for (const c of callers) {
	const ph = runs[`throughput-pollhub-lp-${c}`];
	const full = runs[`throughput-pgbench-create-${c}`];
	const ins = runs[`throughput-pgbench-insert-${c}`];
	const withN = runs[`throughput-pgbench-notify-${c}`];
	const oneN = runs[`throughput-pgbench-notify1-${c}`];
	const noN = runs[`throughput-pgbench-nonotify-${c}`];
	const p = ph?.throughput_per_s ?? null;
	const ratio = (x) => (p !== null && x?.tps ? p / x.tps : null);
	results.throughput.push({
		callers: c, pollhub_per_s: p, pollhub_rtt_ms: ph?.invocations?.rtt_ms ?? null,
		pgbench_create_tps: full?.tps ?? null, pgbench_insert_tps: ins?.tps ?? null,
		pgbench_inline_notify_tps: withN?.tps ?? null, pgbench_inline_notify1_tps: oneN?.tps ?? null,
		pgbench_inline_nonotify_tps: noN?.tps ?? null,
		ratio_to_create_tx: ratio(full), ratio_to_insert_tx: ratio(ins),
		pollhub_errors: ph?.errors?.total ?? null, pgbench_failed: (full?.failed ?? 0) + (ins?.failed ?? 0),
	});
	tpRows.push([c, num(p), lat3(ph?.invocations?.rtt_ms), num(full?.tps), num(ratio(full), 2),
		num(ins?.tps), num(ratio(ins), 2), `${num(withN?.tps)} / ${num(oneN?.tps)} / ${num(noN?.tps)}`, errs(ph)]);
}
if (tpRows.length)
	table('(b) create throughput: callers invoking back-to-back (pollhub, LP) beside pgbench at the same concurrency',
		['callers', 'pollhub/s', 'rtt p50/p99/max ms', 'pgbench create tx/s', 'ratio', 'pgbench INSERT tx/s', 'ratio', 'inline tx/s 2 NOTIFY / 1 / none', 'pollhub errors'],
		tpRows);

// (c) idle
const idleRows = [];
for (const label of Object.keys({ ...idle, ...Object.fromEntries(Object.entries(runs).filter(([k]) => k.startsWith('idle-'))) }).sort()) {
	const m = idle[label];
	const r = runs[label];
	results.idle.push({ label, measurement: m ?? null, push_latency_ms: r?.latency_ms ?? null,
		delivered: r?.deliveries ?? null, errors: r?.errors?.total ?? null, aborted: r?.aborted ?? null });
	idleRows.push([label.replace(/^idle-/, ''), m ? `${m.ready}/${m.clients}` : (r ? `${r.setup.ready}/${r.clients}` : '-'),
		m ? num(m.rss_kb / 1024, 0) : '-', m?.rss_idle_kb ? num(m.rss_idle_kb / 1024, 0) : '-',
		m?.rss_per_client_kb == null ? '-' : num(m.rss_per_client_kb, 2),
		m ? num(m.cpu_percent, 1) : '-', m ? (m.threads_idle ? `${m.threads} (${m.threads_idle})` : m.threads) : '-',
		m?.pg_connections ?? '-', m?.pg_cpu_percent == null ? '-' : num(m.pg_cpu_percent, 1),
		m && m.target === 'pollhub' ? `${num(m.lighttpd_rss_kb / 1024, 0)} MB, ${num(m.lighttpd_cpu_percent, 1)} %` : '-',
		lat3(r?.latency_ms), delivered(r), m?.loadavg ? m.loadavg.join(' → ') : '-', errs(r)]);
}
if (idleRows.length)
	table('(c) idle clients over groups: server (responder / nginx) RSS and CPU while idle, then pushes to one group (latency ms)',
		['target', 'ready', 'RSS MB', 'idle MB', 'KiB/client', 'CPU %', 'threads (idle)', 'PG conns', 'PG CPU %', 'lighttpd', 'push p50/p99/max', 'delivered', 'load', 'errors'],
		idleRows);

// (d) auth: the same runs with POLLHUB_AUTH=none and jwt, alternated round by round;
// medians over the rounds, side by side, with jwt's cost relative to none.
const median = (xs) => {
	const v = xs.filter((x) => typeof x === 'number' && !Number.isNaN(x)).sort((x, y) => x - y);
	if (!v.length) return null;
	return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const authRuns = (mode, kind) => Object.values(runs).filter((r) => r.label?.startsWith(`auth-${mode}-${kind}-`));
const authRows = [];
const authOut = { rounds: 0, metrics: [] };
const pct = (n, j) => (n && j !== null && n !== null ? ((j - n) / n) * 100 : null);
// slower: how much worse jwt is, in percent, whichever way the metric points.
const addAuth = (metric, pick, higherIsBetter, kind) => {
	const n = median(authRuns('none', kind).map(pick));
	const j = median(authRuns('jwt', kind).map(pick));
	const d = pct(n, j);
	const slower = d === null ? null : (higherIsBetter ? -d : d);
	authOut.metrics.push({ metric, none: n, jwt: j, change_percent: d, slower_percent: slower });
	const errors = [...authRuns('none', kind), ...authRuns('jwt', kind)].map((r) => r.errors?.total ?? 0).reduce((x, y) => x + y, 0);
	authRows.push([metric, num(n, 2), num(j, 2), d === null ? '-' : `${d >= 0 ? '+' : ''}${d.toFixed(1)} %`,
		slower === null ? '-' : slower > 10 ? 'NO (over 10 % slower)' : 'yes', errors]);
};
if (Object.keys(runs).some((k) => k.startsWith('auth-'))) {
	authOut.rounds = authRuns('none', 'connect').length;
	addAuth('negotiate + first poll p50 ms', (r) => r.setup?.first_poll_ms?.p50, false, 'connect');
	addAuth('negotiate + first poll p99 ms', (r) => r.setup?.first_poll_ms?.p99, false, 'connect');
	addAuth('connected (handshake answered) p50 ms', (r) => r.setup?.connect_ms?.p50, false, 'connect');
	const tpCallers = [...new Set(authRuns('none', 'tp').map((r) => r.clients))].sort((a, b) => a - b);
	for (const c of tpCallers) {
		addAuth(`create throughput/s, ${c} caller(s)`, (r) => (r.clients === c ? r.throughput_per_s : null), true, 'tp');
		addAuth(`create round trip p50 ms, ${c} caller(s)`, (r) => (r.clients === c ? r.invocations?.rtt_ms?.p50 : null), false, 'tp');
	}
	// Negotiate + first poll is two verified requests: half the difference is what one
	// verification (and reading the header) costs a request, on this loaded machine.
	const fp = authOut.metrics[0];
	authOut.verification_ms_per_request = fp.none !== null && fp.jwt !== null ? (fp.jwt - fp.none) / 2 : null;
	results.auth = authOut;
	table(`(d) identity: POLLHUB_AUTH=none beside jwt (RS256 bearer on every request), median of ${authOut.rounds} alternated round(s)`,
		['metric', 'none', 'jwt', 'jwt vs none', 'within 10 %', 'errors'], authRows);
	console.log(`    one JWT verification ≈ ${num(authOut.verification_ms_per_request, 3)} ms per request` +
		' (half the negotiate + first poll difference: two verified requests)');
}

// (e) read: MeetingHub.read on a large calendar (tests/bench/read.mjs).
const rd = runs.read;
if (rd) {
	const row = (what, s, where, target) => [what, where, s ? s.n : '-', s?.p50 != null ? `${num(s.p50)} / ${num(s.p99)} / ${num(s.max)}` : '-',
		s?.rows_avg == null ? '-' : Math.round(s.rows_avg), s?.bytes_avg == null ? '-' : Math.round(s.bytes_avg / 1024),
		target === undefined ? '' : s?.p99 != null ? (s.p99 < target ? `yes (p99 < ${target} ms)` : `NO (p99 ≥ ${target} ms)`) : '-'];
	results.read = { meetings: rd.meetings, week: rd.week, week_http: rd.week_http, week_small: rd.week_small, grid: rd.grid, unranged: rd.unranged,
		products: rd.products, products_first: rd.products_first,
		errors: rd.errors, week_p99_within_target: rd.week ? rd.week.p99 < rd.targets.week_p99_ms : null };
	table(`(e) read: a calendar of ${rd.meetings.toLocaleString('en-US')} meetings over five years; ms p50 / p99 / max`,
		['read', 'measured', 'calls', 'p50/p99/max ms', 'rows', 'KiB', 'target'], [
			row('one week {Start, End}', rd.week, 'responder (FastCGI)', rd.targets.week_p99_ms),
			row('one week {Start, End}', rd.week_http, 'client via lighttpd'),
			...(rd.week_small ? [row(`one week, a calendar a tenth the size`, rd.week_small, 'responder (FastCGI)')] : []),
			row(`grid: take 20, sort Title, Title contains (Total ${rd.grid?.total ?? '-'})`, rd.grid, 'responder (FastCGI)'),
			['read() unranged, refused', 'responder (FastCGI)', rd.unranged?.n ?? '-', rd.unranged ? `${num(rd.unranged.p50)} (p50)` : '-', '-', '-', ''],
			...(rd.products ? [
				row(`ProductHub, ${(rd.product_count ?? 0).toLocaleString('en-US')} products: take 20, sort ProductName, contains "chai" (Total ${rd.products.total ?? '-'})`,
					rd.products, 'responder (FastCGI)', rd.targets.products_p99_ms),
				row('ProductHub: first page, CreatedAt desc', rd.products_first, 'responder (FastCGI)', rd.targets.products_p99_ms),
			] : []),
		]);
	if (rd.errors) console.log(`    ${rd.errors} read(s) failed (see the run's output)`);
}

// (f) sustained: per bucket (a minute) of publishing, pollhub beside nchan. Latency and
// deliveries are the loadgen's (by send time); CPU and memory run.sh's samples at the
// end of each bucket. Memory growth: first vs last bucket, and the least-squares slope.
const slope = (ys) => {
	const pts = ys.map((y, x) => [x, y]).filter(([, y]) => typeof y === 'number');
	if (pts.length < 2) return null;
	const n = pts.length;
	const mx = pts.reduce((a, [x]) => a + x, 0) / n;
	const my = pts.reduce((a, [, y]) => a + y, 0) / n;
	const sxx = pts.reduce((a, [x]) => a + (x - mx) ** 2, 0);
	return sxx ? pts.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx : null;
};
const susSummary = (lg, sm) => {
	if (!lg && !sm) return null;
	const buckets = lg?.per_bucket ?? [];
	// Samples of the publishing's buckets only (not of the drain and cleanup after it).
	const samples = (sm?.samples ?? []).filter((x) => x.bucket >= 0 && (!buckets.length || x.bucket < buckets.length));
	const mb = (k) => samples.map((x) => (typeof x[k] === 'number' ? x[k] / 1024 : null));
	const grow = (k) => {
		const v = mb(k).filter((x) => x !== null);
		const sl = slope(mb(k));
		return v.length ? { first_mb: v[0], last_mb: v[v.length - 1], baseline_mb: sm?.samples?.find((x) => x.bucket === -1)?.[k] / 1024,
			slope_mb_per_bucket: sl, growth_percent: v[0] ? ((v[v.length - 1] - v[0]) / v[0]) * 100 : null } : null;
	};
	const worst = (f) => buckets.reduce((a, b) => Math.max(a, f(b) ?? 0), 0);
	return {
		clients: lg?.clients ?? sm?.clients, groups: lg?.groups ?? sm?.groups, minutes: sm?.minutes,
		bucket_s: lg?.bucket_s ?? sm?.bucket_s, ready: lg?.setup?.ready, failed: lg?.setup?.failed,
		deliveries: lg?.deliveries ?? null, latency_ms: lg?.latency_ms ?? null,
		worst_bucket_p99_ms: worst((b) => b.latency_ms?.p99), worst_bucket_max_ms: worst((b) => b.latency_ms?.max),
		sent: lg?.invocations?.sent, planned: lg?.invocations?.planned, answered: lg?.invocations?.answered,
		server_memory: grow(lg?.target === 'nchan' || sm?.target === 'nchan' ? 'server_pss_kb' : 'server_rss_kb'),
		pg_memory: sm?.target === 'pollhub' ? grow('pg_pss_kb') : null,
		errors: lg?.errors?.total ?? null, error_kinds: lg ? errs(lg) : 'not run',
		buckets: buckets.map((b) => ({ ...b, sample: samples.find((x) => x.bucket === b.bucket) ?? null })),
	};
};
const susP = susSummary(runs['sustained-pollhub'], sustained['sustained-pollhub']);
const susN = susSummary(runs['sustained-nchan'], sustained['sustained-nchan']);
if (susP || susN) {
	results.sustained = { pollhub: susP, nchan: susN };
	const nb = Math.max(susP?.buckets.length ?? 0, susN?.buckets.length ?? 0);
	const rows = [];
	for (let k = 0; k < nb; k++) {
		const p = susP?.buckets[k];
		const n = susN?.buckets[k];
		const ps = p?.sample;
		const ns = n?.sample;
		rows.push([k + 1, p ? num(p.sent_per_s, 1) : '-', p ? lat3(p.rtt_ms) : '-',
			p ? lat3(p.latency_ms) : '-', p ? `${num(p.lp_ms?.p99)} / ${num(p.sse_ms?.p99)}` : '-',
			p ? num(p.deliveries_per_s, 0) : '-', p ? `${p.missing} / ${p.duplicate}` : '-',
			p ? `${p.clients_failed ?? 0} (${p.cut_by_failure ?? 0})` : '-',
			ps ? num(ps.server_cpu_percent, 1) : '-', ps ? num(ps.server_rss_kb / 1024, 0) : '-',
			ps ? num(ps.pg_cpu_percent, 1) : '-', ps ? num(ps.pg_pss_kb / 1024, 0) : '-',
			ps ? num(ps.lighttpd_cpu_percent, 1) : '-',
			n ? lat3(n.latency_ms) : '-', n ? num(n.deliveries_per_s, 0) : '-', n ? `${n.missing} / ${n.duplicate}` : '-',
			ns ? num(ns.server_cpu_percent, 1) : '-', ns ? num(ns.server_pss_kb / 1024, 0) : '-']);
	}
	const b = susP?.bucket_s ?? susN?.bucket_s ?? 60;
	table(`(f) sustained: ${(susP?.clients ?? '?').toLocaleString?.('en-US') ?? susP?.clients} clients (half LP, half SSE) in ${susP?.groups ?? susN?.groups} groups, one create per group every ` +
		`${(sustained['sustained-pollhub'] ?? sustained['sustained-nchan'])?.interval_ms ?? '?'} ms; per ${b} s (by send time): push latency ms, deliveries/s, lost / duplicated, CPU % and memory MB`,
		['#', 'creates/s', 'create rtt p50/p99/max', 'pollhub p50/p99/max', 'LP / SSE p99', 'deliv/s', 'lost/dup', 'failed (cut)', 'resp CPU', 'resp RSS', 'PG CPU', 'PG PSS', 'lighttpd CPU',
			'nchan p50/p99/max', 'deliv/s', 'lost/dup', 'nginx CPU', 'nginx PSS'], rows);
	for (const [name, s] of [['pollhub', susP], ['nchan', susN]]) {
		if (!s) continue;
		const d = s.deliveries;
		const mem = (m, what) => (m ? `${what} ${num(m.first_mb, 0)} → ${num(m.last_mb, 0)} MB (${m.growth_percent >= 0 ? '+' : ''}${num(m.growth_percent, 1)} %, slope ${num(m.slope_mb_per_bucket, 2)} MB per ${b} s; ${num(m.baseline_mb, 0)} MB before publishing)` : `${what} -`);
		console.log(`    ${name}: ${s.ready ?? '?'} connected (${s.failed ?? '?'} failed), ${s.minutes ?? '?'} min, ${s.sent ?? '?'} of ${s.planned ?? '?'} planned sent;` +
			` deliveries ${d ? `${d.received} received of ${d.expected} expected, ${d.missing} lost, ${d.duplicate} duplicated` +
				(d.cut_by_failure ? `, ${d.cut_by_failure} not received by clients that failed later` : '') : '-'};` +
			` all in: p50 / p99 / max ${lat3(s.latency_ms)} ms, worst minute p99 ${num(s.worst_bucket_p99_ms)} ms;` +
			` ${mem(s.server_memory, name === 'pollhub' ? 'responder RSS' : 'nginx PSS')}` +
			(s.pg_memory ? `; ${mem(s.pg_memory, 'PostgreSQL PSS')}` : '') + `; errors: ${s.error_kinds}`);
	}
	console.log('    lost: a member connected when the message was sent, and connected to the end, never got it;' +
		' failed (cut): clients that failed in that minute (what they had not received by then);' +
		' memory: PostgreSQL and nginx as PSS (shared memory counted once)');
	if (susP && susN && susN.minutes < susP.minutes)
		console.log(`    nchan ran ${susN.minutes} min, pollhub ${susP.minutes} min (BENCH_SUSTAINED_NCHAN_MINUTES)`);
}

if (meta.idle_note) console.log(`\nidle: ${meta.idle_note}`);
console.log(`\nnotes: lighttpd ${meta.lighttpd_conf ?? '?'}; responder DB pool ${meta.responder_db_pool ?? '?'};` +
	` responder threads ${meta.responder_threads ?? '?'}; ${meta.lighttpds ?? 1} lighttpd;` +
	` load average ${meta.loadavg_start ?? '?'} → ${meta.loadavg_end ?? '?'};` +
	` ${meta.cpus ?? '?'} CPUs shared by every process; nginx RSS sums master and workers (shared memory counted in each).`);
fs.writeFileSync(resultsPath, JSON.stringify(results, null, 2) + '\n');
