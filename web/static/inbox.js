// The inbox's live part: new and changed alerts from the event stream, and the actions on
// one alert sent to the API. Plain JavaScript, no library, no build step. Every word it shows
// comes from the catalogue the page carries (#ww-data), never typed here.
"use strict";

(function () {
  const dataNode = document.getElementById("ww-data");
  if (!dataNode) return; // the sign-in page
  const data = JSON.parse(dataNode.textContent);
  const L = data.labels;
  const ui = L.ui;
  const OPEN = ["open", "acknowledged"];

  // --- words and formats, as the server renders them (web/pages.py `row`) -----------------
  function word(table, code) {
    return code && Object.prototype.hasOwnProperty.call(table, code) ? table[code] : code || "";
  }

  function maskId(id) {
    if (id.length <= 10) return "*".repeat(id.length);
    return id.slice(0, 6) + "*".repeat(id.length - 10) + id.slice(-4);
  }

  function maskName(name) {
    const chars = Array.from(name.trim());
    if (chars.length <= 1) return chars.join("");
    if (chars.length === 2) return chars[0] + "*";
    return chars[0] + "*".repeat(chars.length - 2) + chars[chars.length - 1];
  }

  const clock = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });

  function localTime(iso) {
    if (!iso) return "";
    const parts = {};
    for (const p of clock.formatToParts(new Date(iso))) parts[p.type] = p.value;
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
  }

  function amount(text) {
    const value = Number(text || 0);
    if (!value) return "";
    return value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function districtWord(code) {
    return word(L.districts, code);
  }

  function rowView(alert) {
    return {
      severity_word: word(L.severities, alert.severity),
      type_word: word(L.types, alert.type),
      name: maskName(alert.person_name || ""),
      id_number: maskId(alert.person_id || ""),
      program_word: word(L.programs, alert.program),
      community: alert.community || "",
      district_word: districtWord(alert.district_code),
      status_word: word(L.statuses, alert.status),
      detected: localTime(alert.detected_at),
      due: localTime(alert.due_by),
      amount: amount(alert.amount_at_risk),
    };
  }

  function isOverdue(alert) {
    return OPEN.includes(alert.status) && new Date(alert.due_by) < new Date();
  }

  function fill(tr, alert) {
    const view = rowView(alert);
    for (const cell of tr.querySelectorAll("[data-f]")) {
      cell.textContent = view[cell.dataset.f];
    }
    const link = tr.querySelector("a.type");
    link.href = "/alerts/" + encodeURIComponent(alert.alert_id);
    tr.dataset.id = alert.alert_id;
    tr.dataset.status = alert.status;
    tr.dataset.severity = alert.severity;
    tr.className = `alert sev-${alert.severity} st-${alert.status}` +
      (isOverdue(alert) ? " overdue" : "");
  }

  // Filters.matches in alerts/inbox.py: what the list on screen asked for.
  function matches(alert) {
    const f = data.filters;
    const wanted = [
      [f.status, alert.status], [f.type, alert.type], [f.severity, alert.severity],
      [f.program, alert.program], [f.district, alert.district_code],
    ];
    if (wanted.some(([value, actual]) => value && value !== actual)) return false;
    if (!f.q) return true;
    const text = [alert.alert_id, alert.type, alert.reason, alert.community,
      alert.person_name, alert.queue].join(" ").toLowerCase();
    return text.includes(f.q.trim().toLowerCase());
  }

  // --- the live list ---------------------------------------------------------------------
  const rows = document.getElementById("rows");
  const known = new Map(); // alert id -> status, for the open counts
  let offPage = 0;

  function setLive(on) {
    const live = document.getElementById("live");
    if (!live) return;
    live.dataset.state = on ? "on" : "off";
    document.getElementById("live-text").textContent = on ? ui.live_on : ui.live_off;
  }

  function bumpCount(severity, delta) {
    const tile = document.querySelector(`[data-count="${severity}"] [data-f="count"]`);
    if (tile) tile.textContent = String(Math.max(0, Number(tile.textContent) + delta));
  }

  function recount(alert) {
    let wasOpen = null;
    if (known.has(alert.alert_id)) wasOpen = OPEN.includes(known.get(alert.alert_id));
    else if (alert.version === 1) wasOpen = false;
    const isOpen = OPEN.includes(alert.status);
    if (wasOpen !== null && wasOpen !== isOpen) bumpCount(alert.severity, isOpen ? 1 : -1);
    known.set(alert.alert_id, alert.status);
  }

  function showNews() {
    const news = document.getElementById("news");
    news.hidden = false;
    document.getElementById("news-text").textContent =
      ui.new_alerts_hint.replace("{n}", String(offPage));
  }

  function onAlert(alert) {
    recount(alert);
    const existing = rows.querySelector(`tr[data-id="${CSS.escape(alert.alert_id)}"]`);
    if (existing) {
      fill(existing, alert);
      existing.classList.add("changed");
      return;
    }
    if (data.page === 1 && matches(alert)) {
      const tr = document.getElementById("row-template").content.firstElementChild.cloneNode(true);
      fill(tr, alert);
      tr.classList.add("fresh");
      tr.querySelector(".newtag").hidden = false;
      rows.prepend(tr);
      const total = document.getElementById("total");
      total.dataset.n = String(Number(total.dataset.n) + 1);
      total.textContent = ui.total.replace("{n}", total.dataset.n);
      while (rows.children.length > data.per_page) rows.lastElementChild.remove();
      document.getElementById("empty").hidden = true;
      return;
    }
    offPage += 1;
    showNews();
  }

  function listen(handler) {
    // Start where the page was read (a change written while it loaded is replayed); the
    // browser itself sends Last-Event-ID when it reconnects.
    const since = data.since ? "?last_event_id=" + encodeURIComponent(data.since) : "";
    const source = new EventSource("/api/alerts/stream" + since);
    source.addEventListener("open", () => setLive(true));
    source.addEventListener("error", () => setLive(false));
    source.addEventListener("alert", (event) => handler(JSON.parse(event.data)));
    source.addEventListener("reset", () => {
      offPage += 1;
      showNews();
    });
    return source;
  }

  if (rows) {
    for (const tr of rows.querySelectorAll("tr[data-id]")) known.set(tr.dataset.id, tr.dataset.status);
    document.getElementById("news").addEventListener("click", () => window.location.reload());
    listen(onAlert);
  }

  // --- one alert: its actions --------------------------------------------------------------
  const card = document.getElementById("alert");
  if (!card) return;
  const alertId = card.dataset.id;
  const version = Number(card.dataset.version);
  const result = document.getElementById("action-result");

  function say(text, kind) {
    result.textContent = text;
    result.className = "notice " + (kind || "");
    result.hidden = false;
  }

  function problem(action, form) {
    const note = (form.elements.note ? form.elements.note.value : "").trim();
    if (action === "dismiss" && !note) return ui.note_required;
    if (action === "resolve") {
      const code = form.elements.resolution.value;
      if (!code) return ui.resolution_required;
      if (code === "false_match" && !note) return ui.false_match_note;
    }
    if (action === "reassign" && !form.elements.queue.value.trim()) return ui.queue_required;
    return "";
  }

  async function send(action, form) {
    const body = { note: (form.elements.note ? form.elements.note.value : "").trim() };
    if (form.elements.resolution) body.resolution = form.elements.resolution.value;
    if (form.elements.queue) body.queue = form.elements.queue.value.trim();
    const reply = await fetch(`/api/alerts/${encodeURIComponent(alertId)}/${action}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
    if (reply.status === 200) return { ok: true, text: ui[action + "_done"] };
    if (reply.status === 202) return { ok: true, text: ui.queued };
    const key = "error_" + reply.status;
    return { ok: false, text: ui.action_failed + (ui[key] || ui.error_other) };
  }

  for (const form of document.querySelectorAll("form.action")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const action = form.dataset.action;
      const wrong = problem(action, form);
      if (wrong) {
        say(wrong, "error");
        return;
      }
      const buttons = document.querySelectorAll("form.action button");
      buttons.forEach((b) => { b.disabled = true; });
      say(ui.working, "");
      let outcome;
      try {
        outcome = await send(action, form);
      } catch (err) {
        outcome = { ok: false, text: ui.action_failed + ui.error_other };
      }
      say(outcome.text, outcome.ok ? "ok" : "error");
      if (outcome.ok) {
        window.setTimeout(() => window.location.reload(), 700);
      } else {
        buttons.forEach((b) => { b.disabled = false; });
      }
    });
  }

  // Someone else changed this alert while it was open here: offer to show the new version.
  listen((alert) => {
    if (alert.alert_id === alertId && alert.version > version) {
      document.getElementById("changed").hidden = false;
    }
  });
})();
