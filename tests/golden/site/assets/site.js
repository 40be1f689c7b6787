// Draws each page's charts from the JSON embedded next to them. The tables beside the charts hold
// the same numbers, so a page without JavaScript (or printed) loses nothing.
"use strict";
(function () {
  var SHARED_LAYOUT = {
    margin: { l: 48, r: 16, t: 16, b: 48 },
    font: { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: 14, color: "#1a1a1a" },
    paper_bgcolor: "#ffffff",
    plot_bgcolor: "#ffffff",
    showlegend: false,
    xaxis: { gridcolor: "#e3e3e3", zeroline: false, fixedrange: true },
    yaxis: { gridcolor: "#e3e3e3", zeroline: false, fixedrange: true }
  };
  var CONFIG = { displayModeBar: false, responsive: true, staticPlot: false };

  function merge(base, extra) {
    var out = {};
    var key;
    for (key in base) { out[key] = base[key]; }
    for (key in extra) {
      if (extra[key] && typeof extra[key] === "object" && !Array.isArray(extra[key]) &&
          base[key] && typeof base[key] === "object") {
        out[key] = merge(base[key], extra[key]);
      } else {
        out[key] = extra[key];
      }
    }
    return out;
  }

  function draw() {
    if (!window.Plotly) { return; }
    var scripts = document.querySelectorAll("script[data-chart]");
    for (var i = 0; i < scripts.length; i++) {
      var target = document.getElementById(scripts[i].getAttribute("data-chart"));
      if (!target) { continue; }
      var figure = JSON.parse(scripts[i].textContent);
      target.classList.add("drawn");
      window.Plotly.newPlot(target, figure.data, merge(SHARED_LAYOUT, figure.layout || {}), CONFIG);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
