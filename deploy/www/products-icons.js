// The icons the products page draws beyond kendo-icons.js's: the Pager's four arrows and
// the rows' delete button. Loaded after kendo-icons.js, whose kendo.ui.svgIcons it adds
// to. The shapes are @progress/kendo-svg-icons 4.12's (Apache-2.0), copied verbatim;
// tests/browser/products.test.mjs checks them against the installed package.
(function (kendo) {
	Object.assign(kendo.ui.svgIcons, {
		caretAltLeftIcon: { name: 'caret-alt-left', viewBox: '0 0 512 512',
			content: '<path d="m160 256 192-128v256z" />' },
		caretAltRightIcon: { name: 'caret-alt-right', viewBox: '0 0 512 512',
			content: '<path d="M352 256 160 384V128z" />' },
		caretAltToLeftIcon: { name: 'caret-alt-to-left', viewBox: '0 0 512 512',
			content: '<path d="M352 384 160 256l192-128zM128 128v256h32V128z" />' },
		caretAltToRightIcon: { name: 'caret-alt-to-right', viewBox: '0 0 512 512',
			content: '<path d="m128 128 192 128-192 128zm224 256V128h-32v256z" />' },
		trashIcon: { name: 'trash', viewBox: '0 0 512 512',
			content: '<path d="M416 96h-96V64c0-17.6-14.4-32-32-32h-96c-17.6 0-32 14.4-32 32v32H64v64h32v288c0 17.6 14.4 32 32 32h224c17.6 0 32-14.4 32-32V160h32zM192 64h95.9l.1.1V96h-96c.1-.1.1-32.1 0-32m160 384H128.1l-.1-.1V160h32v256h32V160h32v256h32V160h32v256h32V160h32z" />' },
	});
}(window.kendo));
