// Sensing grid worker page (网格员). Plain JS, no framework, no network resources but the cockpit's own.
//
// Server surface used (keep in sync with cockpit/*.cs and README "HTTP API and hubs"):
//   GET  /api/config                          anonymous: { demo, time_zone }
//   POST /api/auth/token                      { username, password } → { access_token, expires_in, role, grids, community, leads }
//   GET  /api/alerts                          the caller's grids' alerts (workers are scoped by the server)
//   POST /api/alerts/{id}/ack | /on-the-way | /resolve {note}   → the updated alert
//   hub  /hubs/worker (access_token)          events: alert, alertUpdated, escalated (grid leaders); invoke AlertsSince(sequence)
"use strict";

(() => {
  const I18N = {
    zh: {
      pageTitle: "网格员告警", title: "网格员告警", signInTitle: "网格员登录", username: "用户名", password: "密码", signIn: "登录",
      signOut: "退出", signInFailed: "用户名或密码错误", signInThrottled: "尝试次数过多，请一分钟后再试", unreachable: "无法连接服务器",
      notWorker: "此页面供网格员使用（该账号角色：{role}）", demoHint: "演示账号：worker1 / worker-demo（网格 g1），leader1 / leader-demo（g1 网格长）",
      connLive: "实时", connConnecting: "连接中", connReconnecting: "重连中", connOffline: "离线",
      empty: "你的网格暂无待处理告警", count: "待处理 {open} 条 · 共 {all} 条",
      grid: "网格", evidence: "证据", received: "告警时间", household: "住户", device: "设备",
      contact: "联系人", showContact: "查看联系方式", noContact: "未登记联系方式", emergency: "紧急联系人",
      expected: "预期", observed: "实测",
      ack: "确认", onTheWay: "在路上", resolve: "处理完成", noteLabel: "处理说明（现场情况、采取的措施）", cancel: "取消", resolveSubmit: "提交并关闭",
      respondIn: "请在 {t} 内确认", leaderRespondIn: "网格长请在 {t} 内确认", overdue: "已超时 {t}",
      escGridLeader: "已超时未确认 · 已上报网格长", escControlRoom: "已超时未确认 · 已上报指挥中心",
      doneAck: "{who} 已确认 · {at}", doneWay: "{who} 在路上 · {at}", doneResolved: "{who} 已处理 · {at}",
      actionFailed: "操作失败：{why}", sessionExpired: "登录已过期，请重新登录",
      sev_info: "提示", sev_warning: "警告", sev_critical: "严重",
      st_open: "未处理", st_acknowledged: "已确认", st_on_the_way: "在路上", st_resolved: "已解决", st_escalated: "已升级",
      kind_living_alone_drop: "独居老人用水用电骤降", kind_device_silent: "设备失联", kind_water_leak: "疑似漏水",
      kind_parking_full: "车位已满", kind_gate_forced: "门禁强行开启", kind_camera_event: "摄像头事件",
      kind_parking_overstay: "车位超时占用", kind_gate_held_open: "门禁长时间未关", kind_gate_night_activity: "夜间通行异常",
      langButton: "EN",
    },
    en: {
      pageTitle: "Grid worker alerts", title: "Grid alerts", signInTitle: "Grid worker sign-in", username: "Username", password: "Password", signIn: "Sign in",
      signOut: "Sign out", signInFailed: "Wrong username or password", signInThrottled: "Too many attempts; try again in a minute", unreachable: "Cannot reach the server",
      notWorker: "This page is for grid workers (this account is: {role})", demoHint: "Demo: worker1 / worker-demo (grid g1), leader1 / leader-demo (leader of g1)",
      connLive: "Live", connConnecting: "Connecting", connReconnecting: "Reconnecting", connOffline: "Offline",
      empty: "No open alerts in your grids", count: "{open} open · {all} in all",
      grid: "Grid", evidence: "Evidence", received: "Raised", household: "Household", device: "Device",
      contact: "Contact", showContact: "Show contact", noContact: "No contact registered", emergency: "Emergency",
      expected: "expected", observed: "observed",
      ack: "Acknowledge", onTheWay: "On the way", resolve: "Resolve", noteLabel: "Note (what you found, what you did)", cancel: "Cancel", resolveSubmit: "Resolve",
      respondIn: "Acknowledge within {t}", leaderRespondIn: "Grid leader: acknowledge within {t}", overdue: "Overdue by {t}",
      escGridLeader: "Not acknowledged in time · sent to the grid leader", escControlRoom: "Not acknowledged in time · sent to the control room",
      doneAck: "Acknowledged by {who} · {at}", doneWay: "{who} on the way · {at}", doneResolved: "Resolved by {who} · {at}",
      actionFailed: "Failed: {why}", sessionExpired: "Signed out: the session expired",
      sev_info: "Info", sev_warning: "Warning", sev_critical: "Critical",
      st_open: "Open", st_acknowledged: "Acknowledged", st_on_the_way: "On the way", st_resolved: "Resolved", st_escalated: "Escalated",
      kind_living_alone_drop: "Living-alone usage drop", kind_device_silent: "Device silent", kind_water_leak: "Suspected water leak",
      kind_parking_full: "Parking full", kind_gate_forced: "Gate forced open", kind_camera_event: "Camera event",
      kind_parking_overstay: "Parking overstay", kind_gate_held_open: "Gate held open", kind_gate_night_activity: "Unusual night passes",
      langButton: "中文",
    },
  };

  const LS_LANG = "sensing.worker.lang";
  const SS_SESSION = "sensing.worker.session";
  // Resolved alerts stay on the list this long, so a worker sees what they just closed; older ones drop off.
  const KEEP_RESOLVED_MS = 12 * 60 * 60 * 1000;
  // Open work first, the most urgent on top.
  const STATUS_ORDER = { escalated: 0, open: 1, acknowledged: 2, on_the_way: 3, resolved: 4 };
  const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 };

  const $ = (id) => document.getElementById(id);
  const state = {
    lang: "zh",
    config: { demo: false, time_zone: "Asia/Shanghai" },
    session: null,            // { token, user, role, grids, leads, community }
    alerts: new Map(),        // id → alert
    lastSequence: 0,
    hub: null,
    conn: "offline",
    retryTimer: null,
    retry: 0,
    clockSkewMs: 0,           // server clock − this phone's clock, so countdowns follow the server's deadlines
    resolving: new Set(),     // ids whose resolve form is open (kept across re-renders)
    notes: new Map(),         // id → draft note
    // household → contact, fetched only when the worker asks, kept in memory only (never in storage), gone on sign-out
    contacts: new Map(),
  };

  // ------------------------------------------------------------------ i18n
  function t(key, args) {
    let s = I18N[state.lang][key] ?? I18N.en[key] ?? key;
    for (const [k, v] of Object.entries(args || {})) s = s.replaceAll(`{${k}}`, v);
    return s;
  }

  function applyLanguage() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.title = t("pageTitle");
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    $("lang").textContent = t("langButton");
    setConnection(state.conn);
    if (state.config.demo) $("demo-hint").textContent = t("demoHint");
    render();
  }

  function initLanguage() {
    const asked = new URLSearchParams(location.search).get("lang");
    const lang = asked || localStorage.getItem(LS_LANG) || "zh";
    state.lang = I18N[lang] ? lang : "zh";
  }

  function timeText(iso) {
    if (!iso) return "—";
    return new Date(iso).toLocaleString(state.lang === "zh" ? "zh-CN" : "en-GB", {
      timeZone: state.config.time_zone, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
    });
  }

  function span(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    const two = (n) => String(n).padStart(2, "0");
    return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
  }

  // ------------------------------------------------------------------ HTTP
  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: {
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...(state.session ? { authorization: `Bearer ${state.session.token}` } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const date = response.headers.get("date");
    if (date) state.clockSkewMs = new Date(date).getTime() + 500 - Date.now(); // Date has whole seconds: take the middle
    if (response.status === 401 && state.session) {
      signOut(t("sessionExpired"));
      throw new Error(t("sessionExpired"));
    }
    const text = await response.text();
    const json = text && (response.headers.get("content-type") || "").includes("json") ? JSON.parse(text) : null;
    if (!response.ok) {
      const error = new Error((json && (json.detail || json.title)) || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return json;
  }

  // ------------------------------------------------------------------ sign-in
  async function signIn(event) {
    event.preventDefault();
    const error = $("signin-error");
    error.hidden = true;
    const button = document.querySelector("[data-testid=signin-submit]");
    button.disabled = true;
    try {
      const answer = await api("POST", "/api/auth/token", { username: $("username").value.trim(), password: $("password").value });
      if (answer.role !== "worker") {
        error.textContent = t("notWorker", { role: answer.role });
        error.hidden = false;
        return;
      }
      state.session = {
        token: answer.access_token, user: $("username").value.trim(), role: answer.role,
        grids: answer.grids || [], leads: answer.leads || [], community: answer.community,
      };
      sessionStorage.setItem(SS_SESSION, JSON.stringify(state.session));
      $("password").value = "";
      await enter();
    } catch (e) {
      error.textContent = e.status === 401 || e.status === 400 ? t("signInFailed") : e.status === 429 ? t("signInThrottled") : t("unreachable");
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  function signOut(message) {
    const hub = state.hub;
    state.hub = null;
    if (hub) hub.stop().catch(() => {});
    clearTimeout(state.retryTimer);
    state.session = null;
    state.alerts.clear();
    state.contacts.clear();
    state.lastSequence = 0;
    sessionStorage.removeItem(SS_SESSION);
    $("board").hidden = true;
    $("who").hidden = true;
    $("signin").hidden = false;
    setConnection("offline");
    const error = $("signin-error");
    error.hidden = !message;
    error.textContent = message || "";
  }

  async function enter() {
    $("signin").hidden = true;
    $("board").hidden = false;
    const s = state.session;
    $("who").textContent = `${s.user} · ${[...new Set([...s.grids, ...s.leads])].join(" ")}`;
    $("who").hidden = false;
    try {
      for (const alert of await api("GET", "/api/alerts")) take(alert);
    } catch { /* offline for now: the hub's catch-up fills the list */ }
    render();
    connect();
  }

  // ------------------------------------------------------------------ live updates
  function setConnection(conn) {
    state.conn = conn;
    const el = $("connection");
    el.dataset.state = conn;
    el.textContent = t({ live: "connLive", connecting: "connConnecting", reconnecting: "connReconnecting", offline: "connOffline" }[conn]);
  }

  /** Keeps the newest version of an alert (by sequence); returns true when it was news to this page. */
  function take(alert) {
    const known = state.alerts.get(alert.id);
    if (known && known.sequence >= alert.sequence) return false;
    state.alerts.set(alert.id, alert);
    if (alert.sequence > state.lastSequence) state.lastSequence = alert.sequence;
    return !known;
  }

  function pushed(alert, ring) {
    const isNew = take(alert);
    render();
    if (ring || isNew) {
      const card = document.querySelector(`[data-alert-id="${CSS.escape(alert.id)}"]`);
      if (card) { card.classList.remove("fresh"); void card.offsetWidth; card.classList.add("fresh"); }
      if (navigator.vibrate) navigator.vibrate([200, 100, 200]);
    }
  }

  async function catchUp() {
    if (!state.hub) return;
    // Everything changed since the last sequence number seen: what a dropped connection missed.
    for (const alert of await state.hub.invoke("AlertsSince", state.lastSequence)) take(alert);
    render();
  }

  function connect() {
    if (!window.signalR || !state.session) return;
    const hub = new signalR.HubConnectionBuilder()
      .withUrl("/hubs/worker", { accessTokenFactory: () => state.session?.token })
      .withAutomaticReconnect([0, 2000, 5000, 10000, 20000, 30000])
      .configureLogging(signalR.LogLevel.Warning)
      .build();
    hub.on("alert", (a) => pushed(a, true));
    hub.on("alertUpdated", (a) => pushed(a, false));
    hub.on("escalated", (a) => pushed(a, true));
    hub.onreconnecting(() => setConnection("reconnecting"));
    hub.onreconnected(async () => {
      setConnection("live");
      await catchUp().catch(() => {});
    });
    hub.onclose(() => {
      if (state.hub !== hub) return; // signed out
      setConnection("offline");
      scheduleRetry();
    });
    state.hub = hub;
    start(hub);
  }

  async function start(hub) {
    setConnection(state.retry === 0 ? "connecting" : "reconnecting");
    try {
      await hub.start();
      if (state.hub !== hub) return;
      state.retry = 0;
      setConnection("live");
      await catchUp(); // alerts changed between the HTTP load (or the drop) and now
    } catch (e) {
      if (state.hub !== hub) return;
      if (e && /401|Unauthorized/.test(String(e.message))) { signOut(t("sessionExpired")); return; }
      setConnection("offline");
      scheduleRetry();
    }
  }

  // Automatic reconnect gives up after its list; a phone walking out of coverage keeps trying, more slowly.
  function scheduleRetry() {
    clearTimeout(state.retryTimer);
    const delay = Math.min(30000, 2000 * 2 ** Math.min(state.retry++, 4));
    state.retryTimer = setTimeout(() => { if (state.hub) start(state.hub); }, delay);
  }

  // ------------------------------------------------------------------ actions
  async function act(alert, action, body, card) {
    const error = card.querySelector(".error");
    error.hidden = true;
    for (const b of card.querySelectorAll("button")) b.disabled = true;
    try {
      const updated = await api("POST", `/api/alerts/${encodeURIComponent(alert.id)}/${action}`, body);
      if (action === "resolve") { state.resolving.delete(alert.id); state.notes.delete(alert.id); }
      take(updated);
      render();
    } catch (e) {
      error.textContent = t("actionFailed", { why: e.message });
      error.hidden = false;
      for (const b of card.querySelectorAll("button")) b.disabled = false;
      // Someone else may have acted first (409): show the alert as it is now.
      if (e.status === 409) api("GET", "/api/alerts").then((all) => { all.forEach(take); render(); }).catch(() => {});
    }
  }

  // ------------------------------------------------------------------ rendering
  function visibleAlerts() {
    const now = Date.now() + state.clockSkewMs;
    return [...state.alerts.values()]
      .filter((a) => a.status !== "resolved" || (a.resolved_at && now - new Date(a.resolved_at).getTime() < KEEP_RESOLVED_MS))
      .sort((a, b) =>
        (STATUS_ORDER[a.status] ?? 9) - (STATUS_ORDER[b.status] ?? 9)
        || (SEVERITY_ORDER[a.severity] ?? 9) - (SEVERITY_ORDER[b.severity] ?? 9)
        || String(a.respond_by || "~").localeCompare(String(b.respond_by || "~"))
        || String(b.received_at || b.raised_at).localeCompare(String(a.received_at || a.raised_at)));
  }

  function render() {
    if (!state.session) return;
    const list = $("alerts");
    const alerts = visibleAlerts();
    const open = alerts.filter((a) => a.status !== "resolved").length;
    $("count").textContent = t("count", { open, all: alerts.length });
    $("empty").hidden = open > 0;
    // Keep what the worker is typing: re-rendering replaces cards, so remember the drafts first.
    for (const area of list.querySelectorAll("textarea")) state.notes.set(area.closest("[data-alert-id]").dataset.alertId, area.value);
    const focused = document.activeElement?.closest?.("[data-alert-id]")?.dataset.alertId;
    list.replaceChildren(...alerts.map(card));
    if (focused && state.resolving.has(focused)) list.querySelector(`[data-alert-id="${CSS.escape(focused)}"] textarea`)?.focus();
    tick();
  }

  function card(alert) {
    const node = $("alert-template").content.firstElementChild.cloneNode(true);
    node.dataset.alertId = alert.id;
    node.dataset.status = alert.status;
    node.dataset.severity = alert.severity;
    for (const el of node.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    const sev = node.querySelector(".sev");
    sev.textContent = t(`sev_${alert.severity}`);
    sev.dataset.severity = alert.severity;
    node.querySelector(".kind").textContent = I18N[state.lang][`kind_${alert.kind}`] || alert.kind;
    node.querySelector(".status").textContent = t(`st_${alert.status}`);
    if (alert.escalation && alert.status !== "resolved") {
      const esc = node.querySelector(".escalation");
      esc.textContent = t(alert.escalation === "control_room" ? "escControlRoom" : "escGridLeader");
      esc.hidden = false;
    }
    node.querySelector(".summary-text").textContent = alert.evidence?.summary || "";
    const subject = node.querySelector(".fact-subject");
    subject.querySelector("dt").textContent = t(alert.household ? "household" : "device");
    subject.querySelector("dd").textContent = alert.household ? `${alert.household}${alert.device ? ` · ${alert.device}` : ""}` : (alert.device || "—");
    node.querySelector(".grid").textContent = `${alert.community} / ${alert.grid ?? "—"}`;
    if (alert.household && alert.status !== "resolved") {
      const fact = node.querySelector(".fact-contact");
      fact.hidden = false;
      const known = state.contacts.get(alert.household);
      if (known !== undefined) showContact(fact.querySelector(".contact"), known);
      fact.querySelector(".show-contact")?.addEventListener("click", () => loadContact(alert.household, fact.querySelector(".contact"), node));
    }
    const points = alert.evidence?.points || [];
    if (points.length) {
      // The newest figure says most on a small screen; the wall shows the whole chart.
      const p = points[points.length - 1];
      const fmt = (v) => Number(v).toLocaleString(state.lang === "zh" ? "zh-CN" : "en-US", { maximumFractionDigits: 2 });
      node.querySelector(".evidence").textContent = `${p.metric}: ${t("expected")} ${fmt(p.expected)} / ${t("observed")} ${fmt(p.observed)}`;
      node.querySelector(".fact-evidence").hidden = false;
    }
    node.querySelector(".received").textContent = timeText(alert.received_at || alert.raised_at);
    if (alert.respond_by && ["open", "escalated"].includes(alert.status)) {
      const deadline = node.querySelector(".deadline");
      deadline.dataset.respondBy = alert.respond_by;
      deadline.dataset.leader = alert.escalation === "grid_leader" ? "1" : "";
      deadline.hidden = false;
    }
    const done = node.querySelector(".done");
    const last = alert.status === "resolved" ? ["doneResolved", alert.resolved_by, alert.resolved_at]
      : alert.status === "on_the_way" ? ["doneWay", alert.on_the_way_by, alert.on_the_way_at]
      : alert.status === "acknowledged" ? ["doneAck", alert.acknowledged_by, alert.acknowledged_at] : null;
    if (last) {
      done.textContent = t(last[0], { who: last[1] || "—", at: timeText(last[2]) }) + (alert.status === "resolved" && alert.note ? ` · ${alert.note}` : "");
      done.hidden = false;
    }

    const ack = node.querySelector(".ack"), way = node.querySelector(".way"), resolve = node.querySelector(".resolve");
    const form = node.querySelector(".resolve-form"), note = form.querySelector("textarea");
    ack.hidden = !["open", "escalated"].includes(alert.status);
    way.hidden = !["open", "escalated", "acknowledged"].includes(alert.status);
    resolve.hidden = alert.status === "resolved" || state.resolving.has(alert.id);
    node.querySelector(".actions").hidden = alert.status === "resolved";
    ack.addEventListener("click", () => act(alert, "ack", undefined, node));
    way.addEventListener("click", () => act(alert, "on-the-way", undefined, node));
    resolve.addEventListener("click", () => { state.resolving.add(alert.id); render(); });
    if (state.resolving.has(alert.id) && alert.status !== "resolved") {
      form.hidden = false;
      note.value = state.notes.get(alert.id) || "";
      note.addEventListener("input", () => state.notes.set(alert.id, note.value));
      form.querySelector(".cancel").addEventListener("click", () => { state.resolving.delete(alert.id); render(); });
      form.querySelector(".submit").addEventListener("click", () => act(alert, "resolve", { note: note.value.trim() || null }, node));
    }
    return node;
  }

  // The resident's name and phone: asked for by the worker who is about to call, from the registry (never in the alert).
  async function loadContact(household, dd, node) {
    const error = node.querySelector(".error");
    try {
      const contact = await api("GET", `/api/households/${encodeURIComponent(household)}/contact`);
      state.contacts.set(household, contact);
      showContact(dd, contact);
    } catch (e) {
      if (e.status === 404) { state.contacts.set(household, null); showContact(dd, null); return; }
      error.textContent = e.message;
      error.hidden = false;
    }
  }

  function showContact(dd, contact) {
    dd.replaceChildren();
    if (!contact) { dd.textContent = t("noContact"); return; }
    const line = (label, phone) => {
      const div = document.createElement("div");
      div.append(label);
      if (phone) {
        const a = document.createElement("a");
        a.href = `tel:${phone.replace(/[^0-9+]/g, "")}`;
        a.textContent = ` ${phone}`;
        div.append(a);
      }
      dd.append(div);
    };
    line((contact.residents || []).join("、"), contact.phone);
    if (contact.emergency_name || contact.emergency_phone) line(`${t("emergency")}: ${contact.emergency_name || ""}`, contact.emergency_phone);
  }

  // Countdowns move every second without re-rendering the cards (a worker may be typing a note).
  function tick() {
    const now = Date.now() + state.clockSkewMs;
    for (const el of document.querySelectorAll(".deadline[data-respond-by]")) {
      const left = new Date(el.dataset.respondBy).getTime() - now;
      el.classList.toggle("overdue", left < 0);
      el.textContent = left < 0 ? t("overdue", { t: span(-left) }) : t(el.dataset.leader ? "leaderRespondIn" : "respondIn", { t: span(left) });
    }
  }

  // ------------------------------------------------------------------ start
  async function main() {
    initLanguage();
    $("lang").addEventListener("click", () => {
      state.lang = state.lang === "zh" ? "en" : "zh";
      localStorage.setItem(LS_LANG, state.lang);
      applyLanguage();
    });
    $("signin").addEventListener("submit", signIn);
    $("signout").addEventListener("click", () => signOut());
    setInterval(tick, 1000);
    try {
      state.config = { ...state.config, ...(await api("GET", "/api/config")) };
    } catch { /* keep the defaults */ }
    $("demo-hint").hidden = !state.config.demo;
    applyLanguage();
    const saved = sessionStorage.getItem(SS_SESSION);
    if (saved) {
      try { state.session = JSON.parse(saved); } catch { state.session = null; }
    }
    if (state.session) await enter();
    else $("signin").hidden = false;
  }

  document.addEventListener("DOMContentLoaded", main);
})();
