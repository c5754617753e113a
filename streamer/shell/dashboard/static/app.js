// streamer operator dashboard: polls this worker's JSON endpoints; no external resources.
// Every value from the worker is inserted as text (textContent), never as HTML.
"use strict";
(function () {
  var selected = null;
  var POLL_MS = 2000;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }
  function fmt(x, digits) {
    if (x === null || x === undefined) { return "–"; }
    if (typeof x !== "number") { return String(x); }
    return x.toFixed(digits === undefined ? 0 : digits);
  }
  function sev(severity) {
    if (!severity) { return el("span", { text: "–" }); }
    return el("span", { "class": "sev sev-" + severity, text: severity });
  }
  function replace(id, nodes, emptyText, colspan) {
    var body = document.getElementById(id);
    while (body.firstChild) { body.removeChild(body.firstChild); }
    if (!nodes.length) {
      var e = colspan ? el("tr", {}, [el("td", { colspan: String(colspan), "class": "empty", text: emptyText })])
                      : el("div", { "class": "empty", text: emptyText });
      body.appendChild(e);
    }
    nodes.forEach(function (n) { body.appendChild(n); });
  }
  function get(path) {
    return fetch(path, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (r.status === 401) { window.location.href = "/login"; throw new Error("unauthorized"); }
      if (!r.ok) { throw new Error(path + ": HTTP " + r.status); }
      return r.json();
    });
  }

  function renderTiles(d) {
    var m = d.metrics || {};
    document.getElementById("t-eps").textContent = fmt(d.throughput.events_per_s, 1);
    document.getElementById("t-dlq").textContent = fmt(d.throughput.dead_letters_per_s, 2);
    document.getElementById("t-lag").textContent = fmt(m.consumer_lag);
    document.getElementById("t-proc").textContent = fmt(m.events_processed);
    document.getElementById("t-alerts").textContent = fmt(m.alerts_emitted);
    document.getElementById("t-cust").textContent = fmt(m.customers_tracked);
    document.getElementById("t-loop").textContent = fmt((m.event_loop_lag_s || 0) * 1000, 1) + " ms";
    var v = d.view || {};
    document.getElementById("view-size").textContent =
      "view: " + fmt(v.open_alerts) + " open alerts, " + fmt(v.risk_history) + " risk histories";
  }
  function renderRiskiest(rows) {
    replace("riskiest-body", rows.map(function (r) {
      var tr = el("tr", { "class": "clickable" + (r.customer_id === selected ? " selected" : ""),
                          "data-customer": r.customer_id }, [
        el("td", { text: r.customer_id }),
        el("td", {}, [el("span", { "class": "bar", style: "width:" + Math.round(r.risk * 80) + "px" }),
                      el("span", { text: " " + fmt(r.risk, 2) })]),
        el("td", {}, [sev(r.severity)]),
        el("td", { text: fmt(r.events_total) })]);
      tr.addEventListener("click", function () { selected = r.customer_id; refresh(); });
      return tr;
    }), "no customer with risk yet", 4);
  }
  function renderClusters(rows) {
    replace("clusters-body", rows.map(function (c) {
      return el("tr", {}, [el("td", { text: c.cluster_id }), el("td", { text: fmt(c.risk, 2) }),
        el("td", { text: c.size + ": " + c.members.slice(0, 4).join(", ") + (c.size > 4 ? " …" : "") }),
        el("td", { text: (c.shared || []).slice(0, 3).join(", ") })]);
    }), "no cluster among the open alerts", 4);
  }
  function renderAlerts(alerts) {
    replace("alerts-body", alerts.map(function (a) {
      var reasons = el("table", {}, [el("thead", {}, [el("tr", {}, ["signal", "value", "baseline",
        "contribution", "why"].map(function (h) { return el("th", { text: h }); }))]),
        el("tbody", {}, (a.reasons || []).map(function (r) {
          return el("tr", {}, [el("td", { text: r.signal }), el("td", { text: fmt(r.value, 3) }),
            el("td", { text: fmt(r.baseline, 3) }), el("td", { text: "+" + fmt(r.contribution, 2) }),
            el("td", { text: r.description || "" })]);
        }))]);
      var head = el("div", { "class": "head" }, [el("span", { "class": "cid", text: a.customer_id }),
        sev(a.severity), el("span", { text: "risk " + fmt(a.risk, 2) }),
        el("span", { "class": "meta", text: a.status + " · " + (a.tactics || []).join(", ") +
          " · " + fmt(a.events_in_window) + " events in window · detected " + a.detected_at +
          (a.cluster ? " · cluster " + a.cluster.cluster_id : "") })]);
      var card = el("div", { "class": "alert sev-" + a.severity + "-b", "data-customer": a.customer_id },
                    [head, reasons]);
      card.addEventListener("click", function () { selected = a.customer_id; refresh(); });
      return card;
    }), "no open alert", 0);
  }
  function renderChart(customer, points) {
    var svg = document.getElementById("chart");
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    document.getElementById("history-customer").textContent = customer ? customer : "(no risky customer yet)";
    var ns = "http://www.w3.org/2000/svg";
    function add(tag, attrs) {
      var n = document.createElementNS(ns, tag);
      Object.keys(attrs).forEach(function (k) { n.setAttribute(k, attrs[k]); });
      svg.appendChild(n); return n;
    }
    [0.25, 0.5, 0.75].forEach(function (y) {
      add("line", { x1: 0, x2: 800, y1: 195 - y * 185, y2: 195 - y * 185, stroke: "#263240" });
    });
    if (!points || points.length === 0) {
      document.getElementById("chart-caption").textContent = "no risk history yet";
      return;
    }
    var t0 = points[0].ts_ms, t1 = points[points.length - 1].ts_ms, span = Math.max(t1 - t0, 1);
    var path = points.map(function (p, i) {
      var x = points.length === 1 ? 400 : ((p.ts_ms - t0) / span) * 790 + 5;
      var y = 195 - p.risk * 185;
      return (i ? "L" : "M") + x.toFixed(1) + "," + y.toFixed(1);
    }).join(" ");
    add("path", { d: path, fill: "none", stroke: "#4fb3ff", "stroke-width": 2,
                  "vector-effect": "non-scaling-stroke" });
    document.getElementById("chart-caption").textContent =
      "risk 0 to 1 (grid at 0.25, 0.5, 0.75) · max " +
      fmt(Math.max.apply(null, points.map(function (p) { return p.risk; })), 2) + " · " +
      points.length + " points · event time " + new Date(t0).toISOString().slice(0, 16).replace("T", " ") +
      " → " + new Date(t1).toISOString().slice(11, 16) + " UTC";
  }

  function refresh() {
    return get("/api/overview").then(function (d) {
      renderTiles(d);
      renderRiskiest(d.riskiest_customers || []);
      renderClusters(d.clusters || []);
      renderAlerts(d.open_alerts || []);
      if (!selected) {
        var top = (d.open_alerts || [])[0] || (d.riskiest_customers || [])[0];
        selected = top ? top.customer_id : null;
      }
      var st = document.getElementById("status");
      st.textContent = "live · worker " + (d.metrics.worker || "") + " · " + new Date().toISOString().slice(11, 19) + " UTC";
      st.className = "status ok";
      if (!selected) { renderChart(null, []); return null; }
      return get("/api/customers/" + encodeURIComponent(selected) + "/risk").then(function (h) {
        renderChart(selected, h.points);
      });
    }).catch(function (err) {
      var st = document.getElementById("status");
      st.textContent = "error: " + err.message; st.className = "status err";
    });
  }
  refresh();
  setInterval(refresh, POLL_MS);
})();
