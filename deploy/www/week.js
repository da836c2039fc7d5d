// A week grid (Monday to Sunday, 24 hours) drawn from the DataSource's meeting models.
// It only draws and reports gestures; the page decides what they do:
//   handlers.onSlot(start)             a click on an empty slot
//   handlers.onOpen(meeting)           a click on a meeting
//   handlers.onMove(meeting, start, end)  a meeting dragged (moved) or its bottom edge dragged
import { DAY_MINUTES, addDays, addMinutes, minutesFrom, sameDay, snap } from './dates.js';

export const HOUR_PX = 44;
const PX_PER_MINUTE = HOUR_PX / 60;
const DRAG_SNAP_MINUTES = 15;
const SLOT_MINUTES = 30;
const DRAG_THRESHOLD_PX = 4;
const TONES = 6;
const SHORT_MINUTES = 40;	// title and time on one line

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
 * Side-by-side lanes for overlapping segments: sets seg.lane, seg.lanes (the lanes of its
 * cluster of overlapping meetings) and seg.span (how many lanes, from its own rightwards,
 * it may fill because no meeting of the cluster is there at its time).
 */
function assignLanes(segments) {
	segments.sort((a, b) => a.from - b.from || b.to - a.to);
	let cluster = [];
	let clusterEnd = -1;
	const laneEnds = [];
	const close = () => {
		for (const seg of cluster) {
			seg.lanes = laneEnds.length;
			seg.span = 1;
			while (seg.lane + seg.span < seg.lanes && !cluster.some((other) =>
				other.lane === seg.lane + seg.span && overlap(seg, other))) seg.span++;
		}
		cluster = [];
		laneEnds.length = 0;
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
	node.style.left = `calc(${(seg.lane / seg.lanes) * 100}% + 2px)`;
	node.style.width = `calc(${(seg.span / seg.lanes) * 100}% - 4px)`;
	if (seg.lanes > 1) node.classList.add('narrow');
	node.append(el('div', 'meeting-title', meeting.title),
		el('div', 'meeting-time', timeLabel(meeting.start, meeting.end)),
		el('div', 'meeting-resize'));
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

export function createWeekView(root, handlers) {
	let weekStart = null;
	let columns = [];
	let allDayCells = [];
	let scroll = null;

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
		weekStart = start;
		const allDay = buildAllDayRow();
		const body = buildBody(start, today);
		root.replaceChildren(buildHead(start, today), allDay.row, body.scroll);
		columns = body.columns;
		allDayCells = allDay.cells;
		scroll = body.scroll;
		for (const column of columns) column.addEventListener('click', onColumnClick);
	};

	/** Draws `meetings` (DataSource models); IDs in `flash` get the "just pushed" mark. */
	const render = (meetings, flash = new Set(), now = new Date()) => {
		for (const node of root.querySelectorAll('.meeting, .now-line')) node.remove();
		for (let i = 0; i < 7; i++) {
			const day = addDays(weekStart, i);
			const timed = meetings.filter((m) => !m.isAllDay)
				.map((m) => segmentOf(m, day)).filter(Boolean);
			for (const seg of assignLanes(timed)) {
				const node = columns[i].appendChild(meetingElement(seg, flash));
				node.addEventListener('pointerdown', (e) => startGesture(e, node, seg.meeting, i));
			}
			for (const m of meetings.filter((x) => x.isAllDay && segmentOf(x, day))) {
				const node = allDayCells[i].appendChild(allDayElement(m, flash));
				node.addEventListener('click', () => handlers.onOpen(m));
			}
			if (sameDay(day, now)) columns[i].append(nowLine(now));
		}
	};

	const scrollToHour = (hour) => {
		if (scroll) scroll.scrollTop = hour * HOUR_PX;
	};

	/**
	 * Scrolls the meeting with this ID (drawn in the week shown) into view if any of it is
	 * outside the visible hours, with a margin; returns whether it is drawn.
	 */
	const reveal = (id) => {
		const node = scroll && id && scroll.querySelector(`.meeting[data-id="${CSS.escape(id)}"]`);
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
