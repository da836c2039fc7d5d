// Stands in for kendo-ui-core's umd/kendo.icons.min.js (495 KB: every one of the ~900 SVG
// icons of @progress/kendo-svg-icons). It does what that file's code does — SVG icons by
// default, kendo.ui.icon, kendo.ui.svgIcons — with only the icons this page's widgets
// draw: the Window's close, Button's plus, the DateTimePicker's calendar, clock and month
// arrows, Notification's info, success and warning marks. A classic script, loaded where
// kendo.icons was (after kendo.html.icon, before the widgets that draw icons).
// The shapes are @progress/kendo-svg-icons 4.12's (Apache-2.0), copied verbatim;
// tests/browser/demo.test.mjs checks them against the installed package and checks that
// no icon the page draws is missing.
(function (kendo) {
	kendo.setDefaults('iconType', 'svg');
	kendo.ui.icon = kendo.html.renderIcon;
	kendo.ui.svgIcons = {
		calendarIcon: { name: 'calendar', viewBox: '0 0 512 512',
			content: '<path d="M416 416H288V288h128zm64-352v384c0 17.6-14.4 32-32 32H64c-17.6 0-32-14.4-32-32V64c0-17.6 14.4-32 32-32h64V0h64v32h128V0h64v32h64c17.6 0 32 14.4 32 32m-32 128H64v255.9l.1.1 383.9-.1zm0-127.9q-.15-.15 0 0l-64-.1v32h-64V64H192v32h-64V64H64.1l-.1.1V160h384z" />' },
		checkIcon: { name: 'check', viewBox: '0 0 512 512',
			content: '<path d="M434.7 82.7 480 128 192 416 32 256l45.3-45.3L192 325.5z" />' },
		chevronLeftIcon: { name: 'chevron-left', viewBox: '0 0 512 512',
			content: '<path d="m353.941 382.059-126.06-126.06 126.06-126.061L320 96 160 255.999 320 416z" />' },
		chevronRightIcon: { name: 'chevron-right', viewBox: '0 0 512 512',
			content: '<path d="m158.059 129.941 126.06 126.06-126.06 126.061L192 416l160-159.999L192 96z" />' },
		clockIcon: { name: 'clock', viewBox: '0 0 512 512',
			content: '<path d="M256 128h-32v160h160v-32H256zm0-96C132.3 32 32 132.3 32 256s100.3 224 224 224 224-100.3 224-224S379.7 32 256 32m0 416c-105.9 0-192-86.1-192-192S150.1 64 256 64s192 86.1 192 192-86.1 192-192 192" />' },
		exclamationCircleIcon: { name: 'exclamation-circle', viewBox: '0 0 512 512',
			content: '<path d="M224 128h64v160h-64zm0 256h64v-64h-64zm256-128c0 123.7-100.3 224-224 224S32 379.7 32 256 132.3 32 256 32s224 100.3 224 224m-32 0c0-106-86-192-192-192S64 150 64 256s86 192 192 192 192-86 192-192" />' },
		infoCircleIcon: { name: 'info-circle', viewBox: '0 0 512 512',
			content: '<path d="M288 352h32v32H192v-32h32v-96h-32v-32h96zm0-224h-64v64h64zm192 128c0 123.7-100.3 224-224 224S32 379.7 32 256 132.3 32 256 32s224 100.3 224 224m-32 0c0-106-86-192-192-192S64 150 64 256s86 192 192 192 192-86 192-192" />' },
		plusIcon: { name: 'plus', viewBox: '0 0 512 512',
			content: '<path d="M288 224V96h-64v128H96v64h128v128h64V288h128v-64z" />' },
		xIcon: { name: 'x', viewBox: '0 0 512 512',
			content: '<path d="M416 141.3 301.3 256 416 370.7 370.7 416 256 301.3 141.3 416 96 370.7 210.7 256 96 141.3 141.3 96 256 210.7 370.7 96z" />' },
	};
	kendo._globals.Icons = kendo._globals.Icons || {};
}(window.kendo));
