// No dead references in the documentation (issue 13 item 6). For README.md, ARCHITECTURE.md,
// CHANGELOG.md, docs/*.md, tests/README.md and tests/bench/README.md:
//
//   - every relative link [text](path), [text](path#anchor) and [text](#anchor) resolves:
//     the file or directory exists (relative to the document, as GitHub reads it), and an
//     anchor into a Markdown file names one of its headings under GitHub's slug rules
//     (lower case; punctuation other than '-' and '_' dropped; spaces to '-'; a repeated
//     heading gets -1, -2, ...);
//   - every backticked repository path, such as `deploy/scripts/migrate.sh` or
//     `sql/migrations/` (an inline code span with a '/' that ends in a file extension or in
//     '/'), exists in the tree, relative to the repository root or to the document.
//
// Code blocks are not read (their '#' lines are comments, not headings). Spans that are
// not paths of this tree are left out: URLs and absolute paths (`/meetings/negotiate`,
// `/node_modules/...`: URL paths of the web server), what the build or a run creates
// (`build/`, `.run/`, `node_modules/`), and the paths inside npm packages listed in
// EXTERNAL. It needs no stack and does its work once per matrix: in the lighttpd +
// LongPolling run (or when neither variable is set), skipping the others.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './stack.mjs';

const web = process.env.POLLHUB_TEST_WEB || 'lighttpd';
const transport = process.env.POLLHUB_TEST_TRANSPORT || 'LongPolling';
const skip = (web !== 'lighttpd' || transport !== 'LongPolling') &&
	`documentation only: runs with lighttpd + LongPolling (this run: ${web} + ${transport})`;

const DOCS = ['README.md', 'ARCHITECTURE.md', 'CHANGELOG.md', 'tests/README.md', 'tests/bench/README.md',
	...fs.readdirSync(path.join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];

/** Paths that name files inside an npm package, not this tree (README, the demo page). */
const EXTERNAL = new Set(['umd/', 'js/', 'esm/', 'umd/kendo.ui.core.min.js']);
/** Created by a build or a run, not tracked. */
const GENERATED = /^(build|\.run)\/|(^|\/)node_modules(\/|$)/;

/** The document's lines outside fenced code blocks (others blanked, so line numbers stay). */
function prose(text) {
	let fence = null;
	return text.split('\n').map((line) => {
		const m = /^\s*(`{3,}|~{3,})/.exec(line);
		if (fence) {
			if (m && m[1][0] === fence[0] && m[1].length >= fence.length && line.trim() === m[1]) fence = null;
			return '';
		}
		if (m) { fence = m[1]; return ''; }
		return line;
	});
}

/** GitHub's anchor for a heading's text. */
function slug(heading) {
	const text = heading
		.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')   // links and images: their text
		.replace(/<[^>]+>/g, '')                     // inline HTML tags
		.replace(/[`*]/g, '')                        // code and emphasis marks (not '_', which GitHub keeps)
		.trim().toLowerCase();
	return text.replace(/[^\p{L}\p{N}\p{M} _-]/gu, '').replace(/ /g, '-');
}

/** Every anchor a Markdown file's headings give, duplicates numbered as GitHub numbers them. */
function anchors(file) {
	const seen = new Map();
	const out = new Set();
	for (const line of prose(fs.readFileSync(file, 'utf8'))) {
		const m = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
		if (!m) continue;
		const base = slug(m[1]);
		const n = seen.get(base) ?? 0;
		seen.set(base, n + 1);
		out.add(n ? `${base}-${n}` : base);
	}
	for (const m of fs.readFileSync(file, 'utf8').matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) out.add(m[1]);
	return out;
}

/** Inline code spans and links of one document, with line numbers. */
function references(doc) {
	const lines = prose(fs.readFileSync(path.join(repoRoot, doc), 'utf8'));
	const spans = [];
	const links = [];
	// Paragraphs, so that a span or a link broken over two lines is read whole.
	let start = 0;
	const flush = (end) => {
		const para = lines.slice(start, end).join('\n');
		const lineOf = (index) => start + 1 + para.slice(0, index).split('\n').length - 1;
		const code = [];
		for (const m of para.matchAll(/(`+)([\s\S]+?)\1/g)) {
			spans.push({ text: m[2].replace(/\s+/g, ' ').trim(), line: lineOf(m.index) });
			code.push([m.index, m.index + m[0].length]);
		}
		const inCode = (i) => code.some(([a, b]) => i >= a && i < b);
		for (const m of para.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
			if (!inCode(m.index)) links.push({ target: m[1], line: lineOf(m.index) });
		for (const m of para.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm))
			if (!inCode(m.index)) links.push({ target: m[1], line: lineOf(m.index) });
	};
	for (let i = 0; i <= lines.length; i++) {
		if (i === lines.length || lines[i].trim() === '') { flush(i); start = i + 1; }
	}
	return { spans, links };
}

/** The paths of this tree a code span names (`fcgi/sse.c/.h` is two), or none. */
function repoPaths(span) {
	const pair = /^(.*)\.([A-Za-z0-9]+)\/\.([A-Za-z0-9]+)$/.exec(span);
	if (pair) return [`${pair[1]}.${pair[2]}`, `${pair[1]}.${pair[3]}`].flatMap(repoPaths);
	if (!/^[A-Za-z0-9._][A-Za-z0-9._\/-]*$/.test(span) || !span.includes('/')) return [];
	if (span.startsWith('./') || span.startsWith('../')) return [];
	if (!/\.[A-Za-z0-9]+$/.test(span) && !span.endsWith('/')) return [];
	if (/^[0-9.]+\/[0-9.]+$/.test(span)) return [];   // a ratio or a version pair, not a path
	if (GENERATED.test(span) || EXTERNAL.has(span)) return [];
	return [span];
}

describe('documentation references', { skip }, () => {
	for (const doc of DOCS) {
		it(`${doc}: every relative link and anchor resolves`, () => {
			assert.ok(fs.existsSync(path.join(repoRoot, doc)), `${doc} exists`);
			const dead = [];
			for (const { target, line } of references(doc).links) {
				if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue;   // http:, mailto:, ...
				const [file, anchor] = target.split('#', 2);
				const resolved = file ? path.resolve(path.dirname(path.join(repoRoot, doc)), decodeURIComponent(file))
					: path.join(repoRoot, doc);
				if (!resolved.startsWith(repoRoot) || !fs.existsSync(resolved)) {
					dead.push(`${doc}:${line}: ${target}: no such file`);
					continue;
				}
				if (anchor !== undefined && resolved.endsWith('.md') && !anchors(resolved).has(decodeURIComponent(anchor)))
					dead.push(`${doc}:${line}: ${target}: no heading #${anchor} in ${path.relative(repoRoot, resolved)}`);
			}
			assert.deepEqual(dead, [], dead.join('\n'));
		});

		it(`${doc}: every backticked repository path exists`, () => {
			const missing = [];
			for (const { text, line } of references(doc).spans) {
				for (const p of repoPaths(text)) {
					const candidates = [path.join(repoRoot, p), path.join(path.dirname(path.join(repoRoot, doc)), p)];
					if (!candidates.some((c) => fs.existsSync(c))) missing.push(`${doc}:${line}: \`${p}\``);
				}
			}
			assert.deepEqual(missing, [], missing.join('\n'));
		});
	}

	it('the slug rules are GitHub\'s', () => {
		assert.equal(slug('Classic ASP.NET SignalR 2.x clients (jquery.signalR)'), 'classic-aspnet-signalr-2x-clients-jquerysignalr');
		assert.equal(slug('Deploying behind `lighttpd`'), 'deploying-behind-lighttpd');
		assert.equal(slug('0.9.0 — 2026-12-01'), '090--2026-12-01');
		assert.equal(slug('mod_fcgid'), 'mod_fcgid');
	});
});
