// skal labeling page: keyboard first, one queried item at a time.
// Item content is set with textContent / <img> / a sandboxed <iframe>;
// no item text is ever parsed as markup.
(() => {
  "use strict";
  const params = new URLSearchParams(window.location.search);
  const token = params.get("token") || "";
  const client = (window.crypto && crypto.randomUUID)
    ? crypto.randomUUID()
    : String(Math.random()).slice(2) + String(Date.now());
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  let current = null;
  let busy = false;
  let classes = [];
  let pressed = null;
  window.skalTurns = [];  // {index, label, ms}: key pressed -> next item shown

  async function api(path, body) {
    const opts = { method: body ? "POST" : "GET", headers: { "X-Skal-Token": token } };
    if (body) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const r = await fetch(path, opts);
    let data;
    try { data = await r.json(); } catch (e) { data = { error: r.statusText }; }
    if (!r.ok) throw new Error(data.error || r.statusText);
    return data;
  }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function signal(series) {
    const w = 480, h = 200, pad = 6;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("width", w); svg.setAttribute("height", h);
    svg.setAttribute("class", "signal");
    const all = series.flat().filter((v) => v !== null);
    const lo = Math.min(...all), hi = Math.max(...all);
    const span = hi > lo ? hi - lo : 1;
    series.forEach((s, c) => {
      const pts = s.map((v, i) => {
        const x = pad + (i * (w - 2 * pad)) / Math.max(s.length - 1, 1);
        const y = h - pad - (((v === null ? lo : v) - lo) * (h - 2 * pad)) / span;
        return x.toFixed(1) + "," + y.toFixed(1);
      });
      const line = document.createElementNS(SVG, "polyline");
      line.setAttribute("points", pts.join(" "));
      line.setAttribute("class", "series series-" + c);
      svg.appendChild(line);
    });
    return svg;
  }

  function view(v, id) {
    if (v.kind === "image") {
      const img = el("img"); img.src = v.src; img.alt = "item " + id; return img;
    }
    if (v.kind === "signal") return signal(v.series);
    if (v.kind === "table") {
      const t = el("table", null, "row-table");
      v.columns.forEach((c, i) => {
        const tr = el("tr"); tr.appendChild(el("th", c)); tr.appendChild(el("td", v.values[i]));
        t.appendChild(tr);
      });
      return t;
    }
    if (v.kind === "html") {
      const f = el("iframe"); f.setAttribute("sandbox", ""); f.srcdoc = v.html;
      f.className = "custom"; return f;
    }
    return el("pre", v.text, "text");
  }

  function buttons() {
    const box = $("buttons");
    if (box.childElementCount === classes.length) return;
    box.replaceChildren();
    classes.forEach((c, k) => {
      const b = el("button", null, "label");
      if (k < 9) b.appendChild(el("kbd", k + 1));
      b.appendChild(el("span", " " + c));
      b.dataset.k = k;
      b.addEventListener("click", () => act("label", k));
      box.appendChild(b);
    });
  }

  function curve(points) {
    const svg = $("curve");
    svg.replaceChildren();
    $("curve-box").style.display = points.length ? "" : "none";
    if (!points.length) return;
    const w = 260, h = 140, pad = 24;
    const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
    const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
    const y0 = Math.min(...ys, 0.5), y1 = Math.max(...ys, y0 + 0.01);
    const px = (x) => pad + ((x - x0) * (w - 2 * pad)) / (x1 - x0);
    const py = (y) => h - pad - ((y - y0) * (h - 2 * pad)) / (y1 - y0);
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", points.map((p) => px(p[0]) + "," + py(p[1])).join(" "));
    line.setAttribute("class", "curve");
    svg.appendChild(line);
    points.forEach((p) => {
      const dot = document.createElementNS(SVG, "circle");
      dot.setAttribute("cx", px(p[0])); dot.setAttribute("cy", py(p[1]));
      dot.setAttribute("r", 3); dot.setAttribute("class", "dot");
      svg.appendChild(dot);
    });
    const last = points[points.length - 1];
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", 4); label.setAttribute("y", 14);
    label.textContent = "score " + last[1].toFixed(3) + " at " + last[0] + " labels";
    svg.appendChild(label);
  }

  function status(s) {
    classes = s.classes;
    buttons();
    const t = $("counts");
    t.replaceChildren();
    s.classes.forEach((c, k) => {
      const tr = el("tr");
      const th = el("th");
      if (k < 9) th.appendChild(el("kbd", k + 1));
      th.appendChild(el("span", " " + c));
      tr.appendChild(th);
      tr.appendChild(el("td", s.counts[k]));
      t.appendChild(tr);
    });
    const tr = el("tr", null, "total");
    tr.appendChild(el("th", "total")); tr.appendChild(el("td", s.n_labels));
    t.appendChild(tr);
    const st = s.stopping;
    $("stopping").textContent = !st ? "no stopping criterion"
      : (st.stop ? "stop: " + st.reason : "go on") + " — " + st.criterion;
    const m = s.model;
    $("model").textContent = (m.fitted ? "model v" + m.version : "no model yet")
      + (m.refit_running ? " · refitting…" : "")
      + (m.last_refit_seconds !== null ? " · last refit " + m.last_refit_seconds + " s" : "")
      + " · pool " + s.n_pool + (s.skipped ? " · skipped " + s.skipped : "")
      + (m.error ? " · refit error: " + m.error : "");
    curve(s.curve);
  }

  function show(data) {
    const box = $("item");
    box.replaceChildren();
    const item = data.item;
    if (data.status) status(data.status);
    if (!item) {
      current = null;
      box.dataset.index = "";
      box.classList.add("done");
      box.appendChild(el("p", "Nothing left to label."));
      $("meta").textContent = "";
    } else {
      current = item;
      box.classList.remove("done");
      box.appendChild(view(item.view, item.id));
      box.dataset.index = String(item.index);
      const who = item.strategy ? "picked by " + item.strategy : "";
      const score = item.score !== null && item.score !== undefined
        ? " · score " + Number(item.score).toPrecision(3) : "";
      $("meta").textContent = "row " + item.id + (who ? " · " + who : "") + score
        + (item.label !== null && item.label !== undefined
          ? " · was " + classes[item.label] : "");
    }
    if (pressed) {
      const p = pressed;
      pressed = null;
      requestAnimationFrame(() => {
        window.skalTurns.push({ index: p.index, action: p.action, ms: performance.now() - p.t0 });
        document.body.dataset.turns = String(window.skalTurns.length);
      });
    }
  }

  async function act(action, k) {
    if (busy) return;
    if (action !== "undo" && !current) return;
    busy = true;
    pressed = { t0: performance.now(), index: current ? current.index : null, action };
    $("message").textContent = "";
    try {
      const body = { client };
      if (action !== "undo") body.index = current.index;
      if (action === "label") body.label = k;
      show(await api("api/" + action, body));
    } catch (e) {
      pressed = null;
      $("message").textContent = e.message;
    } finally {
      busy = false;
    }
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key >= "1" && ev.key <= "9") {
      const k = Number(ev.key) - 1;
      if (k < classes.length) { ev.preventDefault(); act("label", k); }
    } else if (ev.key === "z" || ev.key === "Z") {
      ev.preventDefault(); act("undo");
    } else if (ev.key === "s" || ev.key === "S") {
      ev.preventDefault(); act("skip");
    }
  });

  $("export").href = "export.csv" + (token ? "?token=" + encodeURIComponent(token) : "");
  api("api/next?client=" + encodeURIComponent(client))
    .then(show)
    .catch((e) => { $("message").textContent = e.message; });
  window.skalRefresh = () => api("api/status").then(status);
  setInterval(() => {
    if (!busy) window.skalRefresh().catch(() => {});
  }, 4000);
})();
