// A stand-in for the commercial Kendo Scheduler, appended by readme-snippets.test.mjs to
// kendo-ui-core's modules (core, DataSource with its SignalR transport, Notification) in the
// response for the README page's kendo.all.min.js. The Scheduler is not in kendo-ui-core, so
// this keeps only what the README's page relies on: $(el).kendoScheduler(options) builds
// the DataSource from options.dataSource (as the Scheduler does, type "signalr" included),
// reads it, and leaves { options, dataSource } as the element's data("kendoScheduler").
// Nothing here draws a calendar, applies options.timezone or checks options.resources.
(function ($, kendo) {
	$.fn.kendoScheduler = function (options) {
		return this.each(function () {
			var dataSource = new kendo.data.DataSource(options.dataSource);
			$(this).data('kendoScheduler', { options: options, dataSource: dataSource, element: $(this) });
			dataSource.read();
		});
	};
	window.kendoSchedulerStub = true;
})(window.jQuery, window.kendo);
