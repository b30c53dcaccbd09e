// Static gradient explorer (lstm_core.viz.static): draws precomputed frames as SVG.
// Each explorer is a <div class="lstm-gx"> holding its controls, an <svg class="gx-plot">
// and its data as JSON in <script type="application/json" class="gx-data">. The frames are
// fully laid out in Python (limits, ticks, clipped values, marker indices, notes, tables);
// this script only maps them to SVG coordinates, at the width the page gives the figure,
// so text keeps its size in pixels on a phone. Every copy of this script initialises the
// explorers on the page that are not initialised yet.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var WMAX = 720, WMIN = 320, R = 18;

  function charW(s, px) { return s.length * px * 0.6; }

  function wrap(text, px, width) {
    var words = String(text).split(" "), lines = [], cur = "";
    words.forEach(function (w) {
      var next = cur ? cur + " " + w : w;
      if (cur && charW(next, px) > width) { lines.push(cur); cur = w; } else { cur = next; }
    });
    if (cur) { lines.push(cur); }
    return lines;
  }

  function widthOf(svg) { return Math.round(svg.getBoundingClientRect().width) || WMAX; }

  function init(root) {
    root.setAttribute("data-ready", "1");
    var D = JSON.parse(root.querySelector("script.gx-data").textContent);
    var svg = root.querySelector("svg.gx-plot");
    var details = root.querySelector(".gx-details");
    var inputs = Array.prototype.slice.call(root.querySelectorAll("[data-control]"));
    var W = WMAX, L = 74, PH = D.height, lastWidth = -1;

    function el(tag, attrs, parent, text) {
      var e = document.createElementNS(NS, tag);
      Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
      if (text !== undefined) { e.textContent = text; }
      (parent || svg).appendChild(e);
      return e;
    }
    function tri(x, y, up, fill, stroke, cls, parent) {
      var s = 5.5, d = up
        ? "M" + x + "," + (y - s) + " L" + (x - s) + "," + (y + s * 0.8) + " L" + (x + s) + "," + (y + s * 0.8) + " Z"
        : "M" + x + "," + (y + s) + " L" + (x - s) + "," + (y - s * 0.8) + " L" + (x + s) + "," + (y - s * 0.8) + " Z";
      return el("path", {d: d, fill: fill, stroke: stroke, "stroke-width": 1.4, "class": cls}, parent);
    }

    // A frame's legend: its own curves, in its order, and the edge markers it draws; each
    // entry placed in a row at the current width.
    function legendOf(F) {
      var items = F.series.map(function (s) {
        var st = D.styles[s.name];
        return {kind: "line", name: s.name, color: st.color, dash: st.dash};
      });
      if (F.series.some(function (s) { return s.top.length; })) { items.push({kind: "top", name: D.overflowLabel}); }
      if (F.series.some(function (s) { return s.bottom.length; })) { items.push({kind: "bottom", name: D.underflowLabel}); }
      var row = 0, cx = L;
      items.forEach(function (it) {
        var w = 30 + charW(it.name, 12) + 18;
        if (cx + w > W - R && cx > L) { row += 1; cx = L; }
        it.row = row; it.x = cx; cx += w;
      });
      items.rows = items.length ? row + 1 : 0;
      return items;
    }

    // Width-dependent layout: room for the most legend rows and note lines of any frame
    // (so the figure keeps its height when the controls move), wrapped title, tilted labels.
    var legendRows, titleLines, noteRows, tilt, xlabH, T, PW;
    function layout() {
      W = Math.max(WMIN, Math.min(WMAX, lastWidth));
      L = W < 500 ? 64 : 74;
      PW = W - L - R;
      legendRows = 0;
      Object.keys(D.frames).forEach(function (k) { legendRows = Math.max(legendRows, legendOf(D.frames[k]).rows); });
      titleLines = D.title ? wrap(D.title, 15 * 1.05, W - 20) : [];
      noteRows = 0;
      Object.keys(D.frames).forEach(function (k) {
        var n = 0;
        D.frames[k].notes.forEach(function (t) { n += wrap(t, 12.5, W - L - R).length; });
        noteRows = Math.max(noteRows, n);
      });
      tilt = 0; xlabH = 22;
      if (D.categorical) {
        var first = D.frames[Object.keys(D.frames)[0]], longest = 0;
        first.xticks.forEach(function (t) { longest = Math.max(longest, charW(t.t, 12)); });
        if (longest > PW / first.xticks.length - 6) { tilt = 35; xlabH = 12 + longest * Math.sin(tilt * Math.PI / 180); }
      }
      T = 12 + titleLines.length * 20 + (titleLines.length ? 4 : 0) + noteRows * 17 + 6;
      var B = xlabH + (D.xlabel ? 22 : 0) + legendRows * 20 + 10;
      svg.setAttribute("viewBox", "0 0 " + W + " " + (T + PH + B));
    }

    function drawTable(tab) {
      if (!details) { return; }
      while (details.firstChild) { details.removeChild(details.firstChild); }
      if (!tab) { return; }
      if (tab.caption) {
        var p = document.createElement("p");
        p.className = "gx-caption";
        p.textContent = tab.caption;
        details.appendChild(p);
      }
      var table = document.createElement("table"), head = document.createElement("tr");
      table.className = "gx-table";
      D.tableColumns.forEach(function (c) {
        var th = document.createElement("th");
        th.textContent = c;
        head.appendChild(th);
      });
      table.appendChild(document.createElement("thead")).appendChild(head);
      var body = table.appendChild(document.createElement("tbody"));
      tab.rows.forEach(function (r) {
        var tr = body.appendChild(document.createElement("tr"));
        r.forEach(function (c, j) {
          var td = tr.appendChild(document.createElement("td"));
          if (D.codeColumns.indexOf(j) >= 0) { td.appendChild(document.createElement("code")).textContent = c; }
          else { td.textContent = c; }
        });
      });
      details.appendChild(table);
    }

    function draw() {
      var width = widthOf(svg);
      if (width !== lastWidth) { lastWidth = width; layout(); }
      var idx = inputs.map(function (inp) { return parseInt(inp.value, 10); }), key = idx.join(",");
      inputs.forEach(function (inp, i) {
        var out = inp.parentNode.querySelector("output");
        if (out) { out.textContent = D.controls[i].labels[idx[i]]; }
      });
      while (svg.firstChild) { svg.removeChild(svg.firstChild); }
      svg.setAttribute("data-frame-key", key);
      titleLines.forEach(function (t, i) {
        el("text", {x: W / 2, y: 28 + i * 20, "text-anchor": "middle", "font-size": 15, "font-weight": "bold", "class": "gx-title"}, svg, t);
      });
      var F = D.frames[key];
      if (!F) {
        el("text", {x: W / 2, y: T + PH / 2, "text-anchor": "middle", "font-size": 13}, svg, "no data for this setting");
        drawTable(null);
        return;
      }
      var lo = F.ylim[0], hi = F.ylim[1], x0 = F.xlim[0], x1 = F.xlim[1];
      function ymap(v) {
        v = Math.min(hi, Math.max(lo, v));
        var f = D.logy ? (Math.log10(hi) - Math.log10(v)) / (Math.log10(hi) - Math.log10(lo))
                       : (hi - v) / (hi - lo);
        return +(T + f * PH).toFixed(2);
      }
      function xmap(x) { return +(L + (x - x0) / (x1 - x0) * PW).toFixed(2); }

      var ny = 12 + titleLines.length * 20 + (titleLines.length ? 4 : 0) + 13;
      F.notes.forEach(function (n) {
        wrap(n, 12.5, W - L - R).forEach(function (line) {
          el("text", {x: L, y: ny, "font-size": 12.5, "class": "gx-note", style: "fill:" + D.noteColor}, svg, line);
          ny += 17;
        });
      });
      F.yticks.forEach(function (t) {
        var y = ymap(t.v);
        el("line", {x1: L, x2: L + PW, y1: y, y2: y, stroke: "#e6e6e6", "stroke-width": 1});
        el("line", {x1: L - 5, x2: L, y1: y, y2: y, stroke: "#333", "stroke-width": 1});
        var lab = el("text", {x: L - 8, y: y + 4, "text-anchor": "end", "font-size": 12, "class": "gx-ytick"});
        if (t.e !== undefined) {
          lab.appendChild(document.createTextNode("10"));
          el("tspan", {dy: -6, "font-size": 9.5}, lab, String(t.e).replace("-", "\u2212"));
        } else {
          lab.textContent = t.t;
        }
      });
      F.xticks.forEach(function (t) {
        var x = xmap(t.v), y = T + PH + 18;
        el("line", {x1: x, x2: x, y1: T, y2: T + PH, stroke: "#f0f0f0", "stroke-width": 1});
        el("line", {x1: x, x2: x, y1: T + PH, y2: T + PH + 5, stroke: "#333", "stroke-width": 1});
        var a = {x: x, y: y, "text-anchor": tilt ? "end" : "middle", "font-size": 12, "class": "gx-xtick"};
        if (tilt) { a.transform = "rotate(-" + tilt + " " + x + " " + (y - 4) + ")"; }
        el("text", a, svg, t.t);
      });
      el("rect", {x: L, y: T, width: PW, height: PH, fill: "none", stroke: "#333", "stroke-width": 1});
      if (D.ylabel) {
        var yl = T + PH / 2;
        el("text", {x: 16, y: yl, transform: "rotate(-90 16 " + yl + ")", "text-anchor": "middle", "font-size": 13, "class": "gx-ylabel"}, svg, D.ylabel);
      }
      if (D.xlabel) {
        el("text", {x: L + PW / 2, y: T + PH + xlabH + 18, "text-anchor": "middle", "font-size": 13, "class": "gx-xlabel"}, svg, D.xlabel);
      }
      // curves, then edge markers on top of them
      F.series.forEach(function (s) {
        var st = D.styles[s.name];
        var pts = s.y.map(function (v, i) { return xmap(i) + "," + ymap(v); }).join(" ");
        var attrs = {points: pts, fill: "none", stroke: st.color, "stroke-width": 2, "stroke-linejoin": "round", "class": "gx-line", "data-series": s.name};
        if (st.dash) { attrs["stroke-dasharray"] = "7 4"; }
        el("polyline", attrs);
        if (s.y.length === 1 || D.categorical) {
          s.y.forEach(function (v, i) { el("circle", {cx: xmap(i), cy: ymap(v), r: 3.5, fill: st.color}); });
        }
      });
      F.series.forEach(function (s) {
        var st = D.styles[s.name];
        s.top.forEach(function (i) { tri(xmap(i), T, true, D.overflowColor, D.overflowColor, "gx-overflow"); });
        s.bottom.forEach(function (i) { tri(xmap(i), T + PH, false, "#fff", st.color, "gx-underflow"); });
      });
      var ly0 = T + PH + xlabH + (D.xlabel ? 22 : 0) + 8;
      legendOf(F).forEach(function (it) {
        var y = ly0 + it.row * 20, g = el("g", {"class": "gx-legend"});
        if (it.kind === "line") {
          var a = {x1: it.x, x2: it.x + 24, y1: y, y2: y, stroke: it.color, "stroke-width": 2};
          if (it.dash) { a["stroke-dasharray"] = "7 4"; }
          el("line", a, g);
        } else if (it.kind === "top") {
          tri(it.x + 12, y, true, D.overflowColor, D.overflowColor, "gx-legend-marker", g);
        } else {
          tri(it.x + 12, y, false, "#fff", "#555", "gx-legend-marker", g);
        }
        el("text", {x: it.x + 30, y: y + 4, "font-size": 12}, g, it.name);
      });
      drawTable(F.table);
    }

    inputs.forEach(function (inp) {
      inp.addEventListener("input", draw);
      inp.addEventListener("change", draw);
    });
    window.addEventListener("resize", function () { if (widthOf(svg) !== lastWidth) { draw(); } });
    draw();
  }

  Array.prototype.forEach.call(document.querySelectorAll(".lstm-gx:not([data-ready])"), init);
})();
