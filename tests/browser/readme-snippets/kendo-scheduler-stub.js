// A stand-in for the commercial Kendo Scheduler, appended by readme-snippets.test.mjs to
// kendo-ui-core's modules (core with kendo.timezone, DataSource with its SignalR transport,
// Notification) in the response for the README page's kendo.all.min.js. The Scheduler is
// not in kendo-ui-core, so this keeps only what the README's page relies on:
// $(el).kendoScheduler(options) builds the DataSource from options.dataSource (as the
// Scheduler does, type "signalr", serverFiltering and the transport's parameterMap
// included), leaves { options, dataSource, view() } as the element's data("kendoScheduler")
// before the first read (the real widget is stored on its element in its constructor, which
// is what lets a parameterMap find it), and reads it. view() is the selected view's range as
// the Scheduler gives it: Dates at local midnight whose wall-clock is the first and the last
// day shown (a week from the culture's first day, or the day of options.date), which the
// page converts to UTC with kendo.timezone.remove. Nothing here draws a calendar, applies
// options.timezone to the events or checks options.resources.
(function ($, kendo) {
	function selectedView(options) {
		var views = options.views || ['week'];
		for (var i = 0; i < views.length; i++) {
			if (typeof views[i] === 'object' && views[i].selected) return views[i].type;
		}
		return typeof views[0] === 'object' ? views[0].type : views[0];
	}

	// The first and last day a view of type shows for date, at local midnight.
	function rangeOf(type, date) {
		var day = new Date(date.getFullYear(), date.getMonth(), date.getDate());
		if (type === 'day') return { start: day, end: day };
		if (type !== 'week') throw new Error('kendo-scheduler-stub: only the day and week views are stood in for, not ' + type);
		var first = kendo.culture().calendar.firstDay || 0;
		var start = new Date(day.getFullYear(), day.getMonth(), day.getDate() - (day.getDay() - first + 7) % 7);
		return { start: start, end: new Date(start.getFullYear(), start.getMonth(), start.getDate() + 6) };
	}

	$.fn.kendoScheduler = function (options) {
		return this.each(function () {
			var type = selectedView(options);
			var range = rangeOf(type, options.date ? new Date(options.date) : new Date());
			var view = {
				name: type,
				startDate: function () { return new Date(range.start); },
				endDate: function () { return new Date(range.end); }
			};
			var dataSource = new kendo.data.DataSource(options.dataSource);
			$(this).data('kendoScheduler', {
				options: options, dataSource: dataSource, element: $(this),
				view: function () { return view; }
			});
			dataSource.read();
		});
	};
	window.kendoSchedulerStub = true;
})(window.jQuery, window.kendo);
