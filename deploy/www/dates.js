// Date arithmetic for the week view, in the browser's local time (the DataSource turns
// the hub's UTC instants into local Date objects). Weeks start on Monday.

export const MINUTE_MS = 60 * 1000;
export const DAY_MINUTES = 24 * 60;

export function startOfDay(date) {
	const day = new Date(date);
	day.setHours(0, 0, 0, 0);
	return day;
}

export function startOfWeek(date) {
	const day = startOfDay(date);
	day.setDate(day.getDate() - ((day.getDay() + 6) % 7));
	return day;
}

export function addDays(date, days) {
	const moved = new Date(date);
	moved.setDate(moved.getDate() + days);
	return moved;
}

export function addMinutes(date, minutes) {
	return new Date(date.getTime() + minutes * MINUTE_MS);
}

/** Minutes from the start of `day` to `date` (negative before it, past 1440 after). */
export function minutesFrom(day, date) {
	return Math.round((date.getTime() - day.getTime()) / MINUTE_MS);
}

export function sameDay(a, b) {
	return startOfDay(a).getTime() === startOfDay(b).getTime();
}

/** Rounds minutes to the nearest multiple of step. */
export function snap(minutes, step) {
	return Math.round(minutes / step) * step;
}

/** The next whole hour after now, as a default start for a new meeting. */
export function nextHour(now = new Date()) {
	const start = new Date(now);
	start.setHours(start.getHours() + 1, 0, 0, 0);
	return start;
}

/** The browser's time zone, the one the calendar displays in: its IANA name and its offset
 *  from UTC at `at`, e.g. { name: 'Europe/Berlin', offset: 'UTC+01:00' }. */
export function timeZone(at = new Date()) {
	const name = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
	const minutes = -at.getTimezoneOffset();
	const abs = Math.abs(minutes);
	const hhmm = `${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
	return { name, offset: minutes === 0 ? 'UTC' : `UTC${minutes < 0 ? '-' : '+'}${hhmm}` };
}
