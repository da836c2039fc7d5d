// The meeting dialog: a Kendo Window holding title, start, end and notes. It edits no
// model itself; it hands the entered values to the page:
//   handlers.onSave(meeting or null for a new one, { title, start, end, description })
//   handlers.onDelete(meeting)

const DATE_FORMAT = 'ddd d MMM yyyy, HH:mm';

function picker(selector) {
	return $(selector).kendoDateTimePicker({
		format: DATE_FORMAT,
		timeFormat: 'HH:mm',
		interval: 15,
	}).data('kendoDateTimePicker');
}

/** Returns the reason the values cannot be saved, or ''. */
function problemWith(values) {
	if (!values.title) return 'A meeting needs a title.';
	if (!values.start || !values.end) return 'Pick a start and an end.';
	if (values.end <= values.start) return 'The meeting must end after it starts.';
	return '';
}

export function createEditor(root, handlers) {
	root.hidden = false;
	const form = root.querySelector('form');
	const error = root.querySelector('#meeting-error');
	const title = $('#meeting-title').kendoTextBox({ placeholder: 'What is it about?' }).data('kendoTextBox');
	const start = picker('#meeting-start');
	const end = picker('#meeting-end');
	const description = $('#meeting-description').kendoTextArea({ rows: 3, resize: 'vertical' }).data('kendoTextArea');
	$('#meeting-save').kendoButton({ themeColor: 'primary' });
	$('#meeting-cancel').kendoButton();
	const remove = $('#meeting-delete').kendoButton({ themeColor: 'error', fillMode: 'flat' });
	const win = $(root).kendoWindow({
		modal: true,
		visible: false,
		resizable: false,
		width: 440,
		actions: ['Close'],
	}).data('kendoWindow');
	let current = null;

	const values = () => ({
		title: title.value().trim(),
		start: start.value(),
		end: end.value(),
		description: description.value(),
	});

	// Moving the start keeps the meeting's length, as calendars do.
	let length = 0;
	start.bind('change', () => {
		if (start.value() && length > 0) end.value(new Date(start.value().getTime() + length));
	});
	end.bind('change', () => {
		if (start.value() && end.value()) length = end.value() - start.value();
	});

	form.addEventListener('submit', (event) => {
		event.preventDefault();
		const entered = values();
		const problem = problemWith(entered);
		error.textContent = problem;
		if (problem) return;
		win.close();
		handlers.onSave(current, entered);
	});
	root.querySelector('#meeting-cancel').addEventListener('click', () => win.close());
	remove.on('click', () => {
		win.close();
		handlers.onDelete(current);
	});

	/** Opens the dialog on `meeting`, or on a new meeting from `slot` { start, end }. */
	const open = (meeting, slot) => {
		current = meeting;
		const from = meeting || slot;
		title.value(meeting ? meeting.title : '');
		start.value(from.start);
		end.value(from.end);
		length = from.end - from.start;
		description.value(meeting ? meeting.description || '' : '');
		error.textContent = '';
		remove.toggle(Boolean(meeting));
		win.title(meeting ? 'Edit meeting' : 'New meeting');
		win.center().open();
		title.focus();
	};

	const close = () => {
		current = null;
		win.close();
	};

	/** The meeting being edited while the dialog is open, else null. */
	const editing = () => (win.wrapper.is(':visible') ? current : null);

	return { open, close, editing };
}
