'use strict';
// After a figure is resized, its legend is drawn again. plotly.js leaves a legend where the old
// margins put it when the figure grows: a horizontal legend that wrapped to several rows at a
// phone's width pushed the top margin down, and once the window is wider the margin shrinks but
// the legend stays, over the plot (plotly/plotly.js#6492, open; seen on the course's figures after
// a phone-to-laptop resize). A legend drawn again once the resize is done stands where a fresh
// plot puts it.
var Registry = require('./node_modules/plotly.js/src/registry');
var Plots = require('./node_modules/plotly.js/src/plots/plots');
var Lib = require('./node_modules/plotly.js/src/lib');

function install() {
    var resize = Plots.resize;
    Plots.resize = function(gd) {
        return resize.apply(this, arguments).then(function(result) {
            var div = Lib.getGraphDiv(gd);
            if(div && div._fullLayout && div._fullLayout.showlegend && !div._fullLayout._replotting) {
                Registry.getComponentMethod('legend', 'draw')(div);
            }
            return result;
        });
    };
}

module.exports = install;
