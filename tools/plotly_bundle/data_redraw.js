'use strict';
// A figure update that changes trace data only, drawn the way plotly.js draws a zoom: new data,
// autorange, the axes whose range or categories moved (with their titles), then the traces. What
// can follow the data is drawn again when it did: the legend when a symbol depends on the number
// of points, colour bars whose range or scale moved, annotations and shapes placed on a moved axis.
// A marker placed again keeps the style it has (it was styled once when it was first drawn; its
// trace's style did not change). Not drawn again: the axes that did not move, the figure's title,
// frame and background, which plotly.js's full redraw (`_doPlot`, what `Plotly.update` runs for any
// new data) draws again every time. Margins still follow what is drawn: a push of more than 1 px
// makes plotly.js redraw the figure in full, a 1 px one (which plotly.js records without
// redrawing) gets the full redraw here. An axis's push grows to its widest tick labels and does
// not shrink back while the figure stands (widestPush), so labels that change width with the data
// move the margin once, not on every press.
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
// (`pushed`: data-only updates in which a margin moved by more than 1 px, so that plotly.js redrew
// the figure in full from inside them)
var counts = {data: 0, full: 0, margins: 0, pushed: 0, why: {}};
var pending = null;  // the graph div of the data-only update being run, while it runs
var pendingBars = null;  // its colour bars as drawn (colorBarsOf), read before the update
var markersStyled = false;  // while drawData runs: scatter markers were styled as they were placed
// while drawData runs: {moved: {axis id: true}, the axes whose range or categories moved;
// markers: Map(trace -> what its first marker styled this time recorded on its point)}
var redrawing = null;

function dataOnly(traceUpdate, layoutUpdate) {
    if (layoutUpdate && Object.keys(layoutUpdate).length) return false;
    var keys = Object.keys(traceUpdate || {}).filter(function(k) { return k !== '_doNotReportToPy'; });
    return keys.length > 0 && keys.every(function(k) { return DATA_KEYS[k] === 1; });
}

function axesOf(gd) {
    var out = {};
    Axes.list(gd, '', true).forEach(function(ax) {
        out[ax._id] = {type: ax.type, range: ax.range.slice(), categories: (ax._categories || []).join('\u0000')};
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
// a figure can stand drawn at margins its layout no longer has (margins_settle.js draws it again
// when a draw ends so, but a data update can come first). Only a full redraw puts it where its
// layout says; drawing some axes again would mix the two.
var drawnAtItsMargins = require('./margins_settle').drawnAtItsMargins;

function sameRange(a, b) {
    return a.length === b.length && a.every(function(v, i) { return v === b[i]; });
}

function sameSize(a, b) {
    return ['l', 'r', 't', 'b', 'p', 'w', 'h'].every(function(k) { return a[k] === b[k]; });
}

// What each colour bar shows: per trace with one, its range (resolved by the last calc) and colour
// scale. null when that does not tell: a colour bar with its own calc, or a shared colour axis.
function colorBarsOf(gd) {
    var fl = gd._fullLayout;
    if(fl._colorAxes && Object.keys(fl._colorAxes).length) return null;
    var out = [];
    var calcdata = gd.calcdata || [];
    for(var i = 0; i < calcdata.length; i++) {
        var trace = calcdata[i] && calcdata[i][0] && calcdata[i][0].trace;
        var opts = trace && trace._module && trace._module.colorbar;
        if(!opts || trace.visible !== true) continue;
        var list = Array.isArray(opts) ? opts : [opts];
        for(var j = 0; j < list.length; j++) {
            var cont = list[j].container ? trace[list[j].container] : trace;
            if(!cont || !cont.showscale) continue;
            if(typeof list[j].calc === 'function') return null;
            out.push([trace.uid, cont[list[j].min], cont[list[j].max], Boolean(cont.reversescale), cont.colorscale]);
        }
    }
    return JSON.stringify(out);
}

// plotly.js's start of a redraw: the gradients in the figure's defs are removed, and drawn again
// by what uses them. Colour bars that are not drawn again keep theirs (and the mark on their fill).
function initGradients(gd, keepColorBars) {
    if(!keepColorBars) return Drawing.initGradients(gd);
    var fl = gd._fullLayout;
    var group = Lib.ensureSingle(fl._defs, 'g', 'gradients').node();
    var prefix = 'g' + fl._uid + '-cb';
    var kept = Array.prototype.filter.call(group.querySelectorAll('linearGradient,radialGradient'), function(n) {
        return n.id.indexOf(prefix) === 0;
    });
    var filled = Array.prototype.slice.call(gd.querySelectorAll('g.colorbar .gradient_filled'));
    Drawing.initGradients(gd);
    kept.forEach(function(n) { group.appendChild(n); });
    filled.forEach(function(n) { n.classList.add('gradient_filled'); });
}

// Does an annotation or shape stand where the moved axes put it? Those referring to paper or to
// an axis's domain (its place in the figure, fixed while margins are) do not move with the data;
// the data update changes none of their own attributes.
function followsMovedAxis(items, moved) {
    return (items || []).some(function(item) {
        return ['xref', 'yref', 'axref', 'ayref'].some(function(k) {
            var m = String(item[k] || '').match(/^([xy]\d*)$/);
            return Boolean(m && moved[m[1]]);
        });
    });
}

// Can a legend entry's symbol follow the data? A scatter trace with no mode given draws markers
// under 20 points and lines from 20 on, and its legend symbol follows; text samples are drawn from
// the trace's text. Bars' and lines' symbols are their style, which a data update leaves alone.
function legendFollowsData(gd) {
    return gd._fullData.some(function(trace) {
        if(!trace.showlegend || trace.visible === false) return false;
        if(trace.type === 'bar' || trace.type === 'histogram' || trace.type === 'heatmap') return false;
        if(trace.type !== 'scatter') return true;
        var mode = (trace._input || {}).mode;
        return mode === undefined || String(mode).indexOf('text') !== -1;
    });
}

// A marker's style comes from its trace's marker attributes, or per point from arrays (the keys
// below on its calcdata point). A data update changes neither; a marker drawn before, in the same
// trace, has its style already. Markers whose look depends on their position or on the defs that
// each redraw rebuilds (gradients, patterns) are styled every time.
var POINT_STYLE_KEYS = ['mo', 'ms', 'mx', 'ma', 'mf', 'mlw', 'mlc', 'mc', 'mld', 'mgt', 'mgc', 'so', 'isBlank'];

function styledAlready(d, sel, trace, fns) {
    if(fns.selectedOpacityFn || fns.selectedSizeFn || fns.selectedColorFn) return false;
    var marker = trace.marker || {};
    if(marker.angleref === 'previous' || marker.angleref === 'north') return false;
    if((marker.gradient && marker.gradient.type && marker.gradient.type !== 'none') ||
        (marker.pattern && (marker.pattern.shape || marker.pattern.path))) return false;
    if(POINT_STYLE_KEYS.some(function(k) { return k in d; })) return false;
    var node = typeof sel.node === 'function' ? sel.node() : null;
    return Boolean(node && node.hasAttribute('d') && node.style.opacity !== '');
}

function drawData(gd, before, barsBefore, fullRedraw) {
    // A margin pushed by more than 1 px makes plotly.js redraw the figure in full from inside one of
    // the steps below (Plots.doAutoMargin), with a new _fullLayout: the steps after it are then
    // that redraw's to do, and the bookkeeping is read from gd._fullLayout as it is at each point.
    var start = gd._fullLayout;
    var size = Lib.extendFlat({}, start._size);
    function mine(step) {
        return function() { if(gd._fullLayout === start) return step(gd); };
    }
    var replotted = false;
    Plots.doCalcdata(gd);
    for(var i = 0; i < gd.calcdata.length; i++) gd.calcdata[i][0].trace = gd._fullData[i];
    var bars = colorBarsOf(gd);
    var barsStay = bars !== null && bars === barsBefore;
    initGradients(gd, barsStay);
    Drawing.initPatterns(gd);

    var moved = [];
    var seq = [
        mine(Registry.getComponentMethod('shapes', 'calcAutorange')),
        mine(Registry.getComponentMethod('annotations', 'calcAutorange')),
        mine(subroutines.doAutoRangeAndConstraints),
        mine(function() {
            Axes.list(gd, '', true).forEach(function(ax) {
                var was = before[ax._id];
                if(!sameRange(ax.range, was.range) || (ax._categories || []).join('\u0000') !== was.categories) {
                    moved.push(ax._id);
                }
            });
            // only those axes, with their titles (tick labels of a new width move a title)
            if(moved.length) return Axes.draw(gd, moved);
        }),
        mine(function() {
            // a legend's symbols follow the data: a scatter trace with no mode set draws markers
            // under 20 points and lines only from 20 on
            if(start.showlegend && legendFollowsData(gd)) return Registry.getComponentMethod('legend', 'draw')(gd);
        }),
        mine(function() {
            // a colour bar follows the data's range (a heatmap's zmin/zmax): drawn again when
            // that range or its scale moved
            if(!barsStay) return Registry.getComponentMethod('colorbar', 'draw')(gd);
        }),
        mine(function() {
            // plotly.js styles each scatter marker as it places it, then styles every marker
            // again (Plots.style); the second pass repeats the first, and was a seventh of a key
            // press on the course's marker-heavy explorers
            markersStyled = true;
            redrawing = {moved: {}, markers: new Map()};
            moved.forEach(function(id) { redrawing.moved[id] = true; });
            try {
                return subroutines.drawData(gd);
            } finally {
                markersStyled = false;
                redrawing = null;
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
        if(gd._fullLayout !== start) counts.pushed++;
        // as plotly.js's own end of a redraw (emitAfterPlot): the last of nested redraws tells
        var fl = gd._fullLayout;
        if(fl._redrawFromAutoMarginCount) fl._redrawFromAutoMarginCount--;
        else gd.emit('plotly_afterplot');
        return gd;
    });
}

// An axis's margin push (its tick labels' extent beyond the plot area) never shrinks while the
// figure stands: a push is the largest of those this axis has made, side by side (from the same
// anchor). Tick labels change width with the data ("-5" to "-10" to "-100"); each change of more
// than 1 px made plotly.js redraw the whole figure from inside a key press (Plots.doAutoMargin):
// those presses took twice the others (lesson 06's two explorers, `counts.pushed`), and the plot
// area jumped sideways under the learner's eyes. Now the margin grows to the widest labels seen
// and stays. Every redraw of the figure (plotly.js's own too) uses the same pushes, so the short
// way and the full redraw still draw the same figure. Forgotten when the figure is drawn anew
// (Plotly.newPlot, Plotly.react).
var SIDES = {l: 'xl', r: 'xr', t: 'yt', b: 'yb'};

function widestPush(gd, id, o) {
    var seen = gd._qlearnPushes || (gd._qlearnPushes = {});
    var was = seen[id];
    var now = {};
    Object.keys(SIDES).forEach(function(side) {
        var anchor = o[SIDES[side]] !== undefined ? o[SIDES[side]] : (side === 'l' || side === 'r' ? o.x : o.y);
        var size = o[side] || 0;
        var old = was && was[side];
        // a side that pushes nothing keeps the push it had; one from the same anchor, the wider
        if(old && old.size > 0 && (size <= 0 || (old.anchor === anchor && old.size > size))) now[side] = old;
        else now[side] = {anchor: anchor, size: size};
    });
    seen[id] = now;
    var out = Lib.extendFlat({}, o);
    Object.keys(SIDES).forEach(function(side) {
        out[side] = now[side].size;
        out[SIDES[side]] = now[side].anchor;
    });
    return out;
}

function install(Plotly) {
    var update = Plotly.update;
    var doPlot = plotApi._doPlot;
    var pointStyle = Drawing.pointStyle;
    var autoMargin = Plots.autoMargin;

    Plots.autoMargin = function(gd, id, o) {
        if(o && gd && typeof id === 'string' && /\.automargin$/.test(id) && !window.qlearnFullRedraw) {
            o = widestPush(gd, id, o);
        }
        return autoMargin.call(this, gd, id, o);
    };
    ['newPlot', 'react'].forEach(function(name) {
        var draw = Plotly[name];
        Plotly[name] = function(gd) {
            var div = Lib.getGraphDiv(gd);
            if(div) div._qlearnPushes = {};
            return draw.apply(this, arguments);
        };
    });

    // scatter's style step (Plots.style) restyles every marker that its plot step just styled
    Drawing.pointStyle = function(s, trace) {
        if(markersStyled && trace && trace.type === 'scatter' && (trace.mode || '').indexOf('markers') !== -1) return;
        return pointStyle.apply(this, arguments);
    };

    // a marker placed again, in a trace whose style the update did not change, keeps its style
    // (what plotly.js records on the point for hover is copied from the trace's first marker)
    var singlePointStyle = Drawing.singlePointStyle;
    Drawing.singlePointStyle = function(d, sel, trace, fns) {
        var first = redrawing && trace ? redrawing.markers.get(trace) : undefined;
        if(first && trace.type === 'scatter' && fns && styledAlready(d, sel, trace, fns)) {
            d.mrc = first.mrc;
            d.om = first.om;
            return;
        }
        var out = singlePointStyle.apply(this, arguments);
        if(redrawing && trace && !first) redrawing.markers.set(trace, {mrc: d.mrc, om: d.om});
        return out;
    };

    // annotations and shapes stand where they stood unless they refer to an axis that moved
    ['annotations', 'shapes'].forEach(function(name) {
        var component = Registry.componentsRegistry[name];
        if(!component || typeof component.draw !== 'function') return;
        var draw = component.draw;
        component.draw = function(gd) {
            if(redrawing && !followsMovedAxis(gd._fullLayout[name], redrawing.moved)) return;
            return draw.apply(this, arguments);
        };
    });

    // `Plotly.update` runs `plot_api`'s `exports._doPlot` for new data: this is that function
    plotApi._doPlot = function(gd) {
        if(pending === null || pending !== gd || arguments.length > 1) return doPlot.apply(this, arguments);
        pending = null;
        var before = axesOf(gd);
        var barsBefore = pendingBars;
        var drawn = drawnAtItsMargins(gd);
        Plots.supplyDefaults(gd);
        var why = drawn ? ineligible(gd, before) : 'drawn at other margins';
        if(why) {
            counts.full++;
            counts.why[why] = (counts.why[why] || 0) + 1;
            return doPlot.call(this, gd);
        }
        counts.data++;
        return drawData(gd, before, barsBefore, function(div) { return doPlot.call(null, div); });
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
        // read while gd.calcdata is the drawn one (the update clears it before the redraw)
        pendingBars = colorBarsOf(gd);
        try {
            return update.apply(this, arguments);
        } finally {
            pending = null;
            pendingBars = null;
        }
    };
    window.qlearnDataRedraws = counts;
}

module.exports = install;
