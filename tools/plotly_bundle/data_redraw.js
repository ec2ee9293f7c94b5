'use strict';
// A figure update that changes trace data only, drawn the way plotly.js draws a zoom: new data,
// autorange, the axes whose range moved (with their titles), the legend and colour bars (they
// follow the data), then the traces, each scatter marker styled once. Not the axes that did not
// move, the figure's title, frame and background, which plotly.js's full redraw (`_doPlot`, what
// `Plotly.update` runs for any new data) draws again every time. Margins still follow what is
// drawn: a push of more than 1 px makes plotly.js redraw the figure in full, a 1 px one (which
// plotly.js records without redrawing) gets the full redraw here.
//
// Why: a key press on a course explorer sends `Plotly.update` with new x/y/z arrays and no layout
// change; plotly.js then spent two thirds of the press redrawing parts of the figure that did not
// change (docs/hosting.md, "Key presses: where the time goes").
//
// When: `Plotly.update(gd, traceUpdate, {}, traces)` with only the keys in DATA_KEYS, on a figure
// already drawn, at the margins its layout has, whose base plot is cartesian only, and no axis
// changing type. Anything else runs plotly.js's own full redraw, unchanged.
// `window.qlearnFullRedraw = true` turns the short path off. The browser tests picture each update
// and plotly.js's full redraw of the same data, and compare (tests/browser/test_served_plotly.py).
var Registry = require('./node_modules/plotly.js/src/registry');
var Plots = require('./node_modules/plotly.js/src/plots/plots');
var Axes = require('./node_modules/plotly.js/src/plots/cartesian/axes');
var Drawing = require('./node_modules/plotly.js/src/components/drawing');
var Lib = require('./node_modules/plotly.js/src/lib');
var subroutines = require('./node_modules/plotly.js/src/plot_api/subroutines');
var plotApi = require('./node_modules/plotly.js/src/plot_api/plot_api');

// trace attributes that are data: they change calcdata, the marks, and what follows them (axis
// ranges, legend symbols, colour bars), never the figure's style
var DATA_KEYS = {
    x: 1, y: 1, z: 1, text: 1, hovertext: 1, customdata: 1, hovertemplate: 1,
    zmin: 1, zmax: 1, zmid: 1, base: 1, width: 1
};

// how updates were drawn, and why not data-only (read by the browser tests and benchmarks)
var counts = {data: 0, full: 0, margins: 0, why: {}};
var pending = null;  // the graph div of the data-only update being run, while it runs
var markersStyled = false;  // while drawData runs: scatter markers were styled as they were placed

function dataOnly(traceUpdate, layoutUpdate) {
    if (layoutUpdate && Object.keys(layoutUpdate).length) return false;
    var keys = Object.keys(traceUpdate || {}).filter(function(k) { return k !== '_doNotReportToPy'; });
    return keys.length > 0 && keys.every(function(k) { return DATA_KEYS[k] === 1; });
}

function axesOf(gd) {
    var out = {};
    Axes.list(gd, '', true).forEach(function(ax) {
        out[ax._id] = {type: ax.type, range: ax.range.slice()};
    });
    return out;
}

// After supplyDefaults: may the figure be drawn without its frame, legend and margins? Returns
// why not, or '' when it may.
function ineligible(gd, before) {
    var fl = gd._fullLayout;
    var bases = fl._basePlotModules;
    if(bases.length !== 1 || bases[0].name !== 'cartesian') return 'not only cartesian';
    if(fl._shouldCreateBgLayer) return 'new background layer';
    var after = axesOf(gd);
    var ids = Object.keys(after);
    if(ids.length !== Object.keys(before).length) return 'axes added or removed';
    var changed = ids.some(function(id) { return !before[id] || before[id].type !== after[id].type; });
    return changed ? 'axis type changed' : '';
}

// plotly.js records margins that moved by 1 px without redrawing (Plots.doAutoMargin's tolerance):
// a figure can stand drawn at margins its layout no longer has. Only a full redraw puts it where
// its layout says; drawing some axes again would mix the two.
function drawnAtItsMargins(gd) {
    return Axes.list(gd, '', true).every(function(ax) {
        var length = ax._length;
        var offset = ax._offset;
        ax.setScale();
        return ax._length === length && ax._offset === offset;
    });
}

function sameRange(a, b) {
    return a.length === b.length && a.every(function(v, i) { return v === b[i]; });
}

function sameSize(a, b) {
    return ['l', 'r', 't', 'b', 'p', 'w', 'h'].every(function(k) { return a[k] === b[k]; });
}

function drawData(gd, before, fullRedraw) {
    // A margin pushed by more than 1 px makes plotly.js redraw the figure in full from inside one of
    // the steps below (Plots.doAutoMargin), with a new _fullLayout: the steps after it are then
    // that redraw's to do, and the bookkeeping is read from gd._fullLayout as it is at each point.
    var start = gd._fullLayout;
    var size = Lib.extendFlat({}, start._size);
    function mine(step) {
        return function() { if(gd._fullLayout === start) return step(gd); };
    }
    var replotted = false;
    Drawing.initGradients(gd);
    Drawing.initPatterns(gd);
    Plots.doCalcdata(gd);
    for(var i = 0; i < gd.calcdata.length; i++) gd.calcdata[i][0].trace = gd._fullData[i];

    var moved = [];
    var seq = [
        mine(Registry.getComponentMethod('shapes', 'calcAutorange')),
        mine(Registry.getComponentMethod('annotations', 'calcAutorange')),
        mine(subroutines.doAutoRangeAndConstraints),
        mine(function() {
            Axes.list(gd, '', true).forEach(function(ax) {
                if(!sameRange(ax.range, before[ax._id].range)) moved.push(ax._id);
            });
            // only those axes, with their titles (tick labels of a new width move a title)
            if(moved.length) return Axes.draw(gd, moved);
        }),
        mine(function() {
            // a legend's symbols follow the data: a scatter trace with no mode set draws markers
            // under 20 points and lines only from 20 on
            if(start.showlegend) return Registry.getComponentMethod('legend', 'draw')(gd);
        }),
        // a colour bar follows the data's range (a heatmap's zmin/zmax)
        mine(Registry.getComponentMethod('colorbar', 'draw')),
        mine(function() {
            // plotly.js styles each scatter marker as it places it, then styles every marker
            // again (Plots.style); the second pass repeats the first, and was a seventh of a key
            // press on the course's marker-heavy explorers
            markersStyled = true;
            try {
                return subroutines.drawData(gd);
            } finally {
                markersStyled = false;
            }
        }),
        mine(subroutines.finalDraw),
        Plots.previousPromises,
        mine(function() {
            // plotly.js records margins that moved by only 1 px without redrawing; a full redraw
            // would draw at them: so do we
            if(sameSize(size, start._size)) return;
            counts.margins++;
            replotted = true;
            return fullRedraw(gd);
        })
    ];
    var done = Lib.syncOrAsync(seq, gd);
    if(!done || !done.then) done = Promise.resolve();
    return done.then(function() {
        if(replotted) return gd;  // the full redraw said it was done
        // as plotly.js's own end of a redraw (emitAfterPlot): the last of nested redraws tells
        var fl = gd._fullLayout;
        if(fl._redrawFromAutoMarginCount) fl._redrawFromAutoMarginCount--;
        else gd.emit('plotly_afterplot');
        return gd;
    });
}

function install(Plotly) {
    var update = Plotly.update;
    var doPlot = plotApi._doPlot;
    var pointStyle = Drawing.pointStyle;

    // scatter's style step (Plots.style) restyles every marker that its plot step just styled
    Drawing.pointStyle = function(s, trace) {
        if(markersStyled && trace && trace.type === 'scatter' && (trace.mode || '').indexOf('markers') !== -1) return;
        return pointStyle.apply(this, arguments);
    };

    // `Plotly.update` runs `plot_api`'s `exports._doPlot` for new data: this is that function
    plotApi._doPlot = function(gd) {
        if(pending === null || pending !== gd || arguments.length > 1) return doPlot.apply(this, arguments);
        pending = null;
        var before = axesOf(gd);
        var drawn = drawnAtItsMargins(gd);
        Plots.supplyDefaults(gd);
        var why = drawn ? ineligible(gd, before) : 'drawn at other margins';
        if(why) {
            counts.full++;
            counts.why[why] = (counts.why[why] || 0) + 1;
            return doPlot.call(this, gd);
        }
        counts.data++;
        return drawData(gd, before, function(div) { return doPlot.call(null, div); });
    };

    Plotly.update = function(gd, traceUpdate, layoutUpdate) {
        gd = Lib.getGraphDiv(gd);
        var short = !window.qlearnFullRedraw && dataOnly(traceUpdate, layoutUpdate) &&
            Boolean(gd._fullLayout && gd._fullLayout._paper && gd.calcdata);
        if(!short) {
            counts.full++;
            var why = window.qlearnFullRedraw ? 'turned off' : 'not data only';
            counts.why[why] = (counts.why[why] || 0) + 1;
            return update.apply(this, arguments);
        }
        pending = gd;
        try {
            return update.apply(this, arguments);
        } finally {
            pending = null;
        }
    };
    window.qlearnDataRedraws = counts;
}

module.exports = install;
