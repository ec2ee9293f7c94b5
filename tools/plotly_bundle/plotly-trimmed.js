'use strict';
// plotly.js with the trace types the course draws, and nothing else (the full plotly.js has about
// 50). Keep this list equal to qlearn/server/plotly_bundle.py TRACES: tests/test_plotly_bundle.py
// checks both, and that the course draws no other type.
var Plotly = require('./node_modules/plotly.js/lib/core'); // core registers scatter

Plotly.register([
    require('./node_modules/plotly.js/lib/bar'),
    require('./node_modules/plotly.js/lib/heatmap'),
    require('./node_modules/plotly.js/lib/histogram'),
    require('./node_modules/plotly.js/lib/table'),
]);

// a figure update with new trace data only is drawn without redrawing the figure's frame, legend
// and unmoved axes (data_redraw.js says when, and why)
require('./data_redraw')(Plotly);
// a resized figure's legend is drawn again where its new margins put it (legend_resize.js)
require('./legend_resize')();
// a figure whose draw ended 1 px off the margins plotly.js recorded is drawn at them (margins_settle.js)
require('./margins_settle')(Plotly);

// plotly's dist build also sets this global (its bundle's last statement, `window.Plotly = ...`);
// the qlearn template uses it to lay figures out for a narrow screen (qlearnNarrow's relayout)
window.Plotly = Plotly;

module.exports = Plotly;
