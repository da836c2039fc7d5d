// A week grid (Monday to Sunday, 24 hours) drawn from the DataSource's meeting models.
// It only draws and reports gestures; the page decides what they do:
//   handlers.onSlot(start)             a click on an empty slot
//   handlers.onOpen(meeting)           a click on a meeting (or Enter on it, or a pick in a
//                                      "+N more" list)
//   handlers.onMove(meeting, start, end)  a meeting dragged (moved) or its bottom edge dragged
import { DAY_MINUTES, addDays, addMinutes, minutesFrom, sameDay, snap } from './dates.js';

export const HOUR_PX = 44;
const PX_PER_MINUTE = HOUR_PX / 60;
const DRAG_SNAP_MINUTES = 15;
const SLOT_MINUTES = 30;
const DRAG_THRESHOLD_PX = 4;
const TONES = 6;
const SHORT_MINUTES = 40;	// title and time on one line
// Overlapping meetings side by side: each card at least MIN_CARD_PX wide (the width in which
// a word of seven letters of the narrow cards' 11 px type fits on one line), at most
// MAX_LANES of them. A cluster that needs more lanes shows what fits and a "+N more" chip,
// CHIP_PX wide at the column's right edge, that lists the others. Narrower cards broke
// titles letter by letter ("L at 2", "N e w": six meetings in one hour of a 113 px column).
export const MIN_CARD_PX = 52;
export const MAX_LANES = 3;
const CARD_GAP_PX = 4;		// 2 px either side of a card
const CHIP_PX = 36;		// the chip's 32 px and its gaps
const CHIP_MIN_MINUTES = 45;	// tall enough for "+N" over "more"

function el(tag, className, text) {
	const node = document.createElement(tag);
	if (className) node.className = className;
	if (text !== undefined) node.textContent = text;
	return node;
}

const fmt = (date, format) => kendo.toString(date, format);

/** A stable colour per meeting, from its ID (or uid while it has none). */
function toneOf(meeting) {
	const key = String(meeting.ID || meeting.uid);
	let h = 0;
	for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0;
	return `tone-${h % TONES}`;
}

/** The part of a timed meeting inside `day`, in minutes, or null. */
function segmentOf(meeting, day) {
	const from = minutesFrom(day, meeting.start);
	let to = minutesFrom(day, meeting.end);
	if (to <= from) to = from + DRAG_SNAP_MINUTES;	// zero-length: still visible
	if (to <= 0 || from >= DAY_MINUTES) return null;
	return { meeting, from: Math.max(from, 0), to: Math.min(to, DAY_MINUTES) };
}

const overlap = (a, b) => a.from < b.to && b.from < a.to;

/**
 * Side-by-side lanes for overlapping segments: sets seg.lane, seg.cluster (its cluster of
 * overlapping meetings, numbered), seg.lanes (the lanes of that cluster) and seg.span (how
 * many lanes, from its own rightwards, it may fill because no meeting of the cluster is
 * there at its time).
 */
function assignLanes(segments) {
	segments.sort((a, b) => a.from - b.from || b.to - a.to);
	let cluster = [];
	let clusterEnd = -1;
	let clusters = 0;
	const laneEnds = [];
	const close = () => {
		for (const seg of cluster) {
			seg.cluster = clusters;
			seg.lanes = laneEnds.length;
			seg.span = 1;
			while (seg.lane + seg.span < seg.lanes && !cluster.some((other) =>
				other.lane === seg.lane + seg.span && overlap(seg, other))) seg.span++;
		}
		cluster = [];
		laneEnds.length = 0;
		clusters++;
	};
	for (const seg of segments) {
		if (seg.from >= clusterEnd) close();
		let lane = laneEnds.findIndex((end) => end <= seg.from);
		if (lane === -1) lane = laneEnds.length;
		laneEnds[lane] = seg.to;
		seg.lane = lane;
		cluster.push(seg);
		clusterEnd = Math.max(clusterEnd, seg.to);
	}
	close();
	return segments;
}

/** How many cards of at least MIN_CARD_PX fit side by side in `width` px (1 to MAX_LANES). */
export function lanesThatFit(width) {
	return Math.max(1, Math.min(MAX_LANES, Math.floor(width / (MIN_CARD_PX + CARD_GAP_PX))));
}

/**
 * Fits the lanes of assignLanes() into a column `width` px wide. A cluster whose lanes fit
 * is drawn as it is. Of one that does not, the lanes that fit beside a chip are drawn
 * (seg.shown = that many, the others' segments get seg.hidden) and one chip per cluster
 * is returned: { from, to, segments } of its hidden meetings, from the first's start to
 * the last's end. Greedy lanes put a meeting in lane k only when lanes 0..k-1 are busy at
 * its start, so every hidden meeting overlaps a drawn one: the chip is beside them.
 */
function collapseLanes(segments, width) {
	const fit = lanesThatFit(width);
	const chips = [];
	const clusters = new Map();
	for (const seg of segments) {
		if (!clusters.has(seg.cluster)) clusters.set(seg.cluster, []);
		clusters.get(seg.cluster).push(seg);
	}
	for (const cluster of clusters.values()) {
		if (cluster[0].lanes <= fit) continue;
		const shown = lanesThatFit(width - CHIP_PX);
		const hidden = [];
		for (const seg of cluster) {
			seg.shown = shown;
			if (seg.lane >= shown) {
				seg.hidden = true;
				hidden.push(seg);
			} else {
				seg.span = Math.min(seg.span, shown - seg.lane);
			}
		}
		hidden.sort((a, b) => a.from - b.from || a.to - b.to);
		chips.push({
			from: Math.min(...hidden.map((seg) => seg.from)),
			to: Math.max(...hidden.map((seg) => seg.to)),
			segments: hidden,
		});
	}
	return chips;
}

function buildHead(weekStart, today) {
	const head = el('div', 'week-head');
	head.append(el('div', 'gutter'));
	for (let i = 0; i < 7; i++) {
		const day = addDays(weekStart, i);
		const cell = el('div', sameDay(day, today) ? 'day-head today' : 'day-head');
		cell.append(el('span', 'day-name', fmt(day, 'ddd')), el('span', 'day-number', String(day.getDate())));
		head.append(cell);
	}
	return head;
}

function buildAllDayRow() {
	const row = el('div', 'week-allday');
	row.append(el('div', 'gutter', 'all day'));
	const cells = [];
	for (let i = 0; i < 7; i++) cells.push(row.appendChild(el('div', 'allday-cell')));
	return { row, cells };
}

function buildBody(weekStart, today) {
	const scroll = el('div', 'week-scroll');
	const grid = scroll.appendChild(el('div', 'week-grid'));
	grid.style.height = `${24 * HOUR_PX}px`;
	const hours = grid.appendChild(el('div', 'hours'));
	for (let h = 1; h < 24; h++) {
		const label = hours.appendChild(el('span', 'hour', `${String(h).padStart(2, '0')}:00`));
		label.style.top = `${h * HOUR_PX}px`;
	}
	const columns = [];
	for (let i = 0; i < 7; i++) {
		const day = addDays(weekStart, i);
		const column = grid.appendChild(el('div', sameDay(day, today) ? 'day today' : 'day'));
		column.dataset.day = String(i);
		columns.push(column);
	}
	return { scroll, columns };
}

function timeLabel(start, end) {
	return `${fmt(start, 'HH:mm')} – ${fmt(end, 'HH:mm')}`;
}

function meetingElement(seg, flash) {
	const { meeting } = seg;
	const node = el('div', `meeting ${toneOf(meeting)}`);
	if (!meeting.ID) node.classList.add('pending');
	if (seg.to - seg.from <= SHORT_MINUTES) node.classList.add('short');
	if (meeting.ID && flash.has(meeting.ID)) node.classList.add('flash');
	node.dataset.id = meeting.ID || '';
	node.dataset.uid = meeting.uid;
	node.title = `${meeting.title}\n${timeLabel(meeting.start, meeting.end)}`;
	node.style.top = `${seg.from * PX_PER_MINUTE}px`;
	node.style.height = `${Math.max((seg.to - seg.from) * PX_PER_MINUTE, 16)}px`;
	// Lanes share the column, or what the "+N more" chip leaves of it.
	const lanes = seg.shown || seg.lanes;
	const room = seg.shown ? `(100% - ${CHIP_PX}px)` : '100%';
	node.style.left = `calc(${room} * ${seg.lane / lanes} + 2px)`;
	node.style.width = `calc(${room} * ${seg.span / lanes} - 4px)`;
	if (lanes > 1 || seg.shown) node.classList.add('narrow');
	// Reachable from the keyboard: Tab to it, Enter or Space opens it.
	node.tabIndex = 0;
	node.setAttribute('role', 'button');
	node.setAttribute('aria-label', meetingLabel(meeting));
	node.append(el('div', 'meeting-title', meeting.title),
		el('div', 'meeting-time', timeLabel(meeting.start, meeting.end)),
		el('div', 'meeting-resize'));
	return node;
}

/** What a screen reader says for a meeting: its title, day and times. */
function meetingLabel(meeting) {
	return `${meeting.title}, ${fmt(meeting.start, 'dddd d MMMM')}, ${timeLabel(meeting.start, meeting.end)}`;
}

/** The "+N more" chip of a cluster's hidden meetings (see collapseLanes). */
function chipElement(chip, flash) {
	const count = chip.segments.length;
	const node = el('button', 'more-chip');
	node.type = 'button';
	node.append(el('span', 'more-count', `+${count}`), ' ', el('span', 'more-word', 'more'));
	const from = Math.min(chip.from, DAY_MINUTES - CHIP_MIN_MINUTES);
	node.style.top = `${from * PX_PER_MINUTE}px`;
	node.style.height = `${Math.max(chip.to - from, CHIP_MIN_MINUTES) * PX_PER_MINUTE}px`;
	node.title = chip.segments.map((seg) => `${seg.meeting.title} (${timeLabel(seg.meeting.start, seg.meeting.end)})`).join('\n');
	node.setAttribute('aria-label', `${count} more ${count === 1 ? 'meeting' : 'meetings'}`);
	node.setAttribute('aria-haspopup', 'dialog');
	node.setAttribute('aria-expanded', 'false');
	node.dataset.ids = chip.segments.map((seg) => seg.meeting.ID || seg.meeting.uid).join(' ');
	if (chip.segments.some((seg) => seg.meeting.ID && flash.has(seg.meeting.ID))) node.classList.add('flash');
	return node;
}

function allDayElement(meeting, flash) {
	const node = el('div', `meeting allday ${toneOf(meeting)}`, meeting.title);
	if (meeting.ID && flash.has(meeting.ID)) node.classList.add('flash');
	node.dataset.id = meeting.ID || '';
	node.dataset.uid = meeting.uid;
	return node;
}

function nowLine(now) {
	const line = el('div', 'now-line');
	line.style.top = `${(now.getHours() * 60 + now.getMinutes()) * PX_PER_MINUTE}px`;
	return line;
}

/**
 * The list a "+N more" chip opens: a Kendo Popup beside the chip holding one button per
 * hidden meeting; picking one calls onPick(meeting). Escape closes it and gives the focus
 * back to the chip; the arrow keys move between its meetings.
 */
function createMoreList(onPick) {
	const box = el('div', 'more-list');
	box.setAttribute('role', 'dialog');
	const heading = box.appendChild(el('div', 'more-heading'));
	heading.id = 'more-list-heading';
	box.setAttribute('aria-labelledby', heading.id);
	const list = box.appendChild(el('ul', 'more-items'));
	document.body.append(box);
	let chip = null;	// the chip it is open for
	const popup = $(box).kendoPopup({
		origin: 'top right',
		position: 'top left',
		collision: 'flip fit',
		animation: false,
		close: () => {
			if (chip) chip.setAttribute('aria-expanded', 'false');
		},
	}).data('kendoPopup');

	const items = () => [...list.querySelectorAll('.more-item')];

	const fill = (node, segments, day) => {
		chip = node;
		chip.setAttribute('aria-expanded', 'true');
		heading.textContent = `${segments.length} more · ${fmt(day, 'dddd d MMM')}`;
		list.replaceChildren(...segments.map(({ meeting }) => {
			const item = el('button', `more-item ${toneOf(meeting)}`);
			item.type = 'button';
			item.dataset.id = meeting.ID || '';
			item.dataset.uid = meeting.uid;
			item.append(el('span', 'more-item-title', meeting.title),
				el('span', 'more-item-time', timeLabel(meeting.start, meeting.end)));
			item.addEventListener('click', () => {
				close(false);
				onPick(meeting);
			});
			const row = el('li');
			row.append(item);
			return row;
		}));
	};

	const close = (refocus) => {
		if (!popup.visible()) return;
		popup.close();
		if (refocus && chip && chip.isConnected) chip.focus();
	};

	/** Opens the list of `segments` (hidden on `day`) beside chip `node`, or closes it
	 *  when it is open for that chip already. */
	const toggle = (node, segments, day) => {
		if (popup.visible() && chip === node) return close(true);
		fill(node, segments, day);
		popup.options.anchor = $(node);
		popup.open();
		setTimeout(() => items()[0]?.focus());
	};

	/**
	 * After the grid was drawn again (a push, a save, the minute tick): the list follows
	 * the new chip that holds any of its meetings, or closes when none does.
	 */
	const refresh = (chips) => {
		if (!popup.visible() || !chip) return;
		const ids = new Set(chip.dataset.ids.split(' '));
		const next = chips.find((c) => c.node.dataset.ids.split(' ').some((id) => ids.has(id)));
		if (!next) {
			close(false);
			return;
		}
		const hadFocus = box.contains(document.activeElement);
		fill(next.node, next.segments, next.day);
		popup.options.anchor = $(next.node);
		popup.position();
		if (hadFocus) items()[0]?.focus();
	};

	box.addEventListener('keydown', (event) => {
		const all = items();
		const at = all.indexOf(document.activeElement);
		if (event.key === 'Escape') close(true);
		else if (event.key === 'ArrowDown') all[(at + 1) % all.length]?.focus();
		else if (event.key === 'ArrowUp') all[(at - 1 + all.length) % all.length]?.focus();
		else return;
		event.preventDefault();
		event.stopPropagation();
	});
	// Tabbing out of it closes it, as the click outside it does (Kendo's Popup).
	box.addEventListener('focusout', (event) => {
		if (event.relatedTarget && !box.contains(event.relatedTarget) && event.relatedTarget !== chip) close(false);
	});

	return { toggle, refresh, close };
}

export function createWeekView(root, handlers) {
	let weekStart = null;
	let columns = [];
	let allDayCells = [];
	let scroll = null;
	let drawn = null;	// the last render's arguments, drawn again when the width changes
	let drawnWidth = 0;
	const more = createMoreList((meeting) => handlers.onOpen(meeting));

	/** Index of the day column under clientX, clamped to the week. */
	const columnAt = (clientX) => {
		const index = columns.findIndex((c) => clientX < c.getBoundingClientRect().right);
		return index === -1 ? columns.length - 1 : index;
	};

	// One gesture on a meeting: a click opens it, a drag moves it (or, from its bottom
	// edge, changes its end) in 15-minute steps, previewed until the pointer is released.
	const startGesture = (event, node, meeting, dayIndex) => {
		if (event.button !== 0) return;
		event.preventDefault();
		event.stopPropagation();
		const resizing = event.target.classList.contains('meeting-resize');
		const origin = { x: event.clientX, y: event.clientY, height: node.offsetHeight };
		let change = null;
		node.setPointerCapture(event.pointerId);
		node.onpointermove = (move) => {
			const dx = move.clientX - origin.x;
			const dy = move.clientY - origin.y;
			if (!change && Math.hypot(dx, dy) < DRAG_THRESHOLD_PX) return;
			const minutes = snap(dy / PX_PER_MINUTE, DRAG_SNAP_MINUTES);
			change = resizing ? resizeTo(node, meeting, minutes, origin)
				: moveTo(node, meeting, minutes, columnAt(move.clientX) - dayIndex);
		};
		node.onpointerup = () => {
			node.onpointermove = node.onpointerup = node.onpointercancel = null;
			if (!change) handlers.onOpen(meeting);
			else handlers.onMove(meeting, change.start, change.end);
		};
		node.onpointercancel = () => {
			node.onpointermove = node.onpointerup = node.onpointercancel = null;
			node.classList.remove('dragging');
			node.style.transform = '';
			node.style.height = `${origin.height}px`;
			node.querySelector('.meeting-time').textContent = timeLabel(meeting.start, meeting.end);
		};
	};

	const moveTo = (node, meeting, minutes, days) => {
		const start = addMinutes(addDays(meeting.start, days), minutes);
		const end = addMinutes(addDays(meeting.end, days), minutes);
		const width = columns[0].getBoundingClientRect().width;
		node.style.transform = `translate(${days * width}px, ${minutes * PX_PER_MINUTE}px)`;
		node.classList.add('dragging');
		node.querySelector('.meeting-time').textContent = timeLabel(start, end);
		return { start, end };
	};

	const resizeTo = (node, meeting, minutes, origin) => {
		const shortest = addMinutes(meeting.start, DRAG_SNAP_MINUTES);
		let end = addMinutes(meeting.end, minutes);
		if (end < shortest) end = shortest;
		const grow = minutesFrom(meeting.end, end) * PX_PER_MINUTE;
		node.style.height = `${Math.max(origin.height + grow, 16)}px`;
		node.classList.add('dragging');
		node.querySelector('.meeting-time').textContent = timeLabel(meeting.start, end);
		return { start: meeting.start, end };
	};

	const onColumnClick = (event) => {
		const column = event.currentTarget;
		if (event.target !== column) return;	// on a meeting or the now line
		const minutes = Math.floor(event.offsetY / PX_PER_MINUTE / SLOT_MINUTES) * SLOT_MINUTES;
		handlers.onSlot(addMinutes(addDays(weekStart, Number(column.dataset.day)), minutes));
	};

	/** Rebuilds the grid for the week starting at `start` (a Monday, 00:00). */
	const show = (start, today = new Date()) => {
		more.close(false);
		weekStart = start;
		const allDay = buildAllDayRow();
		const body = buildBody(start, today);
		root.replaceChildren(buildHead(start, today), allDay.row, body.scroll);
		columns = body.columns;
		allDayCells = allDay.cells;
		scroll = body.scroll;
		for (const column of columns) column.addEventListener('click', onColumnClick);
	};

	const onCardKey = (event, meeting) => {
		if (event.key !== 'Enter' && event.key !== ' ') return;
		event.preventDefault();
		handlers.onOpen(meeting);
	};

	/** Draws `meetings` (DataSource models); IDs in `flash` get the "just pushed" mark. */
	const render = (meetings, flash = new Set(), now = new Date()) => {
		drawn = { meetings, flash };
		drawnWidth = columns[0] ? columns[0].clientWidth : 0;
		const chips = [];
		for (const node of root.querySelectorAll('.meeting, .more-chip, .now-line')) node.remove();
		for (let i = 0; i < 7; i++) {
			const day = addDays(weekStart, i);
			const timed = assignLanes(meetings.filter((m) => !m.isAllDay)
				.map((m) => segmentOf(m, day)).filter(Boolean));
			for (const chip of collapseLanes(timed, columns[i].clientWidth)) {
				const node = columns[i].appendChild(chipElement(chip, flash));
				node.addEventListener('click', () => more.toggle(node, chip.segments, day));
				chips.push({ node, segments: chip.segments, day });
			}
			for (const seg of timed.filter((s) => !s.hidden)) {
				const node = columns[i].appendChild(meetingElement(seg, flash));
				node.addEventListener('pointerdown', (e) => startGesture(e, node, seg.meeting, i));
				node.addEventListener('keydown', (e) => onCardKey(e, seg.meeting));
			}
			for (const m of meetings.filter((x) => x.isAllDay && segmentOf(x, day))) {
				const node = allDayCells[i].appendChild(allDayElement(m, flash));
				node.addEventListener('click', () => handlers.onOpen(m));
			}
			if (sameDay(day, now)) columns[i].append(nowLine(now));
		}
		more.refresh(chips);
	};

	// How many meetings fit side by side depends on the columns' width: a window made
	// narrower or wider is drawn again (in the next frame, not inside the observer's
	// callback).
	new ResizeObserver(() => requestAnimationFrame(() => {
		if (drawn && columns[0] && columns[0].clientWidth !== drawnWidth) render(drawn.meetings, drawn.flash);
	})).observe(root);

	const scrollToHour = (hour) => {
		if (scroll) scroll.scrollTop = hour * HOUR_PX;
	};

	/**
	 * Scrolls the meeting with this ID (drawn in the week shown, or in a "+N more" chip)
	 * into view if any of it is outside the visible hours, with a margin; returns whether
	 * it is drawn.
	 */
	const reveal = (id) => {
		const node = scroll && id && (scroll.querySelector(`.meeting[data-id="${CSS.escape(id)}"]`)
			|| scroll.querySelector(`.more-chip[data-ids~="${CSS.escape(id)}"]`));
		if (!node) return false;
		const margin = HOUR_PX / 2;
		const top = node.offsetTop;
		const bottom = top + node.offsetHeight;
		const view = scroll.clientHeight;
		if (top < scroll.scrollTop || bottom > scroll.scrollTop + view) {
			// Its start near the top when it is taller than the view, else all of it in view.
			const target = bottom - top + 2 * margin > view ? top - margin
				: top < scroll.scrollTop ? top - margin : bottom + margin - view;
			scroll.scrollTo({ top: Math.max(0, target), behavior: 'smooth' });
		}
		return true;
	};

	return { show, render, scrollToHour, reveal };
}
