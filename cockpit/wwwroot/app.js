// Sensing wall screen (数字驾驶舱). Plain JS, no framework, no network resources but the cockpit's own.
//
// Server surface used (keep in sync with cockpit/*.cs and CONTRACT.md):
//   GET  /api/config                         anonymous: { demo, demo_login:{username,password}|null, time_zone }
//   POST /api/auth/token                     { username, password } → { access_token, expires_in, role, grids, community }
//   GET  /api/communities                    [{ id, name, grids:[{ id, name }] }]
//   GET  /api/tiles?community=ID             tiles object
//   GET  /api/alerts?community=ID&status=open  [alert]
//   hub  /hubs/cockpit (access_token)        invoke Watch(communityId) → tiles; invoke AlertsSince(sequence) → [alert]
//                                            events: tiles(tiles), alert(alert), alertUpdated(alert)
"use strict";

(() => {
  // ---------------------------------------------------------------- i18n
  const I18N = {
    zh: {
      pageTitle: "数字驾驶舱", title: "数字驾驶舱", community: "社区", dataAge: "数据",
      connLive: "实时", connReconnecting: "重连中", connOffline: "离线", connConnecting: "连接中",
      store: "存储", storeOk: "正常", storeSpooling: "补写中 {n} 批", storeDown: "故障 · 本地缓存 {n} 批",
      storeHint: "存储故障时数据先写入本地缓存，恢复后按序补写，不丢数据",
      connOfflineHint: "实时通道未连接，每 15 秒刷新一次",
      tHouseholds: "监护住户", uHouseholds: "户", tHouseholdsSub: "独居老人用水用电监测",
      tCameras: "摄像头在线", tGate: "今日门禁通行", uTimes: "人次", tGateSub: "自当地零点起",
      tParking: "空余车位", tOpenAlerts: "待处理告警", uItems: "条", tClosure: "告警闭环率",
      tIngest: "数据接入速率", uPerMin: "条/分钟", tIngestSub: "最近一分钟读数",
      tDeadletters: "死信消息", tDeadlettersSub: "最近一小时无法解析",
      tSilent: "失联设备", uDevices: "台", tSilentSub: "超过预期间隔未上报",
      noLots: "暂无停车场数据", noOpenAlerts: "各网格均无待处理告警", unassigned: "未分配网格",
      feedTitle: "实时告警", feedEmpty: "暂无告警", feedCount: "{n} 条",
      expected: "预期", observed: "实测", close: "关闭", noEvidence: "无证据数据",
      household: "住户", device: "设备", grid: "网格", startedAt: "开始", raisedAt: "告警", note: "备注",
      updatedBy: "处理人",
      loginTitle: "登录数字驾驶舱", username: "用户名", password: "密码", signIn: "登录",
      loginFailed: "用户名或密码错误", loginUnreachable: "无法连接服务器",
      ageNone: "无数据", ageNow: "刚刚", ageSec: "{n} 秒前", ageMin: "{n} 分钟前", ageHour: "{n} 小时前", ageDay: "{n} 天前",
      updated: "{age}更新", staleWarn: "数据延迟", staleBad: "数据过期",
      kind_living_alone_drop: "独居老人用水用电骤降", kind_device_silent: "设备失联", kind_water_leak: "疑似漏水",
      kind_parking_full: "车位已满", kind_gate_forced: "门禁强行开启", kind_camera_event: "摄像头事件",
      kind_parking_overstay: "车位超时占用", kind_gate_held_open: "门禁长时间未关", kind_gate_night_activity: "夜间通行异常",
      incident: "所属事件",
      sev_info: "提示", sev_warning: "警告", sev_critical: "严重",
      st_open: "未处理", st_acknowledged: "已确认", st_resolved: "已解决", st_escalated: "已升级",
      langButton: "EN",
    },
    en: {
      pageTitle: "Digital Cockpit", title: "Digital Cockpit", community: "Community", dataAge: "Data",
      connLive: "Live", connReconnecting: "Reconnecting", connOffline: "Offline", connConnecting: "Connecting",
      store: "Store", storeOk: "OK", storeSpooling: "catching up {n} batches", storeDown: "down · {n} batches spooled",
      storeHint: "While the store is down, data waits in a local spool and is written in order when it returns: nothing is lost",
      connOfflineHint: "Live channel down; refreshing every 15 s",
      tHouseholds: "Households monitored", uHouseholds: "", tHouseholdsSub: "Elderly living alone, water & power",
      tCameras: "Cameras online", tGate: "Gate passes today", uTimes: "", tGateSub: "Since local midnight",
      tParking: "Free parking", tOpenAlerts: "Open alerts", uItems: "", tClosure: "Alert closure rate",
      tIngest: "Ingest rate", uPerMin: "/min", tIngestSub: "Readings in the last minute",
      tDeadletters: "Dead letters", tDeadlettersSub: "Unparseable, last hour",
      tSilent: "Silent devices", uDevices: "", tSilentSub: "Overdue beyond expected interval",
      noLots: "No parking lots reported", noOpenAlerts: "No open alerts in any grid", unassigned: "Unassigned",
      feedTitle: "Live alerts", feedEmpty: "No alerts", feedCount: "{n}",
      expected: "Expected", observed: "Observed", close: "Close", noEvidence: "No evidence data",
      household: "Household", device: "Device", grid: "Grid", startedAt: "Started", raisedAt: "Raised", note: "Note",
      updatedBy: "By",
      loginTitle: "Sign in to the Digital Cockpit", username: "Username", password: "Password", signIn: "Sign in",
      loginFailed: "Wrong username or password", loginUnreachable: "Cannot reach the server",
      ageNone: "no data", ageNow: "just now", ageSec: "{n}s ago", ageMin: "{n} min ago", ageHour: "{n} h ago", ageDay: "{n} d ago",
      updated: "Updated {age}", staleWarn: "Delayed", staleBad: "Stale",
      kind_living_alone_drop: "Living-alone usage drop", kind_device_silent: "Device silent", kind_water_leak: "Suspected water leak",
      kind_parking_full: "Parking full", kind_gate_forced: "Gate forced open", kind_camera_event: "Camera event",
      kind_parking_overstay: "Parking overstay", kind_gate_held_open: "Gate held open", kind_gate_night_activity: "Unusual night passes",
      incident: "Incident",
      sev_info: "Info", sev_warning: "Warning", sev_critical: "Critical",
      st_open: "Open", st_acknowledged: "Acknowledged", st_resolved: "Resolved", st_escalated: "Escalated",
      langButton: "中文",
    },
  };

  const STALE_WARN_MS = 60 * 1000;      // amber after 1 minute
  const STALE_BAD_MS = 5 * 60 * 1000;   // red after 5 minutes
  const POLL_MS = 15 * 1000;            // HTTP refresh while the hub is not live
  const MAX_ALERTS = 200;
  const LS_LANG = "sensing.cockpit.lang";
  const LS_COMMUNITY = "sensing.cockpit.community";
  const SS_TOKEN = "sensing.cockpit.token";

  const $ = (id) => document.getElementById(id);

  const state = {
    lang: "zh",
    config: { demo: false, demo_login: null, time_zone: "Asia/Shanghai" },
    token: null,
    communities: [],
    community: null,
    tiles: null,
    alerts: new Map(),         // id → alert
    lastSequence: 0,
    selectedAlert: null,
    conn: "offline",           // connecting | live | reconnecting | offline
    hub: null,
    hubRetry: 0,
    hubTimer: null,
    pollTimer: null,
    lastAutoLogin: 0,
  };

  // ---------------------------------------------------------------- i18n helpers
  function t(key, vars) {
    let s = I18N[state.lang][key];
    if (s === undefined) s = I18N.zh[key];
    if (s === undefined) return key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, v);
    return s;
  }

  function initLanguage() {
    const q = new URLSearchParams(location.search).get("lang");
    let lang = q || localStorage.getItem(LS_LANG) || "zh";
    if (!I18N[lang]) lang = "zh";
    if (q && I18N[q]) localStorage.setItem(LS_LANG, q);
    state.lang = lang;
  }

  function applyLanguage() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.documentElement.dataset.lang = state.lang;
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
    $("lang-switch").textContent = t("langButton");
    document.title = `${t("pageTitle")} · ${communityName()}`;
    setConnection(state.conn);
    renderCommunityName();
    renderTiles();
    renderAlerts();
    renderDetail();
    tick();
  }

  function toggleLanguage() {
    state.lang = state.lang === "zh" ? "en" : "zh";
    localStorage.setItem(LS_LANG, state.lang);
    const url = new URL(location.href);
    if (url.searchParams.has("lang")) { url.searchParams.delete("lang"); history.replaceState(null, "", url); }
    applyLanguage();
  }

  // ---------------------------------------------------------------- time formatting (in the configured zone)
  let fmtCache = {};
  function fmt(kind) {
    const key = `${state.lang}|${state.config.time_zone}|${kind}`;
    if (fmtCache[key]) return fmtCache[key];
    const locale = state.lang === "zh" ? "zh-CN" : "en-GB";
    const tz = state.config.time_zone || "Asia/Shanghai";
    const opts = {
      time: { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" },
      date: { year: "numeric", month: "2-digit", day: "2-digit", weekday: "short" },
      day: { year: "numeric", month: "2-digit", day: "2-digit" },
      short: { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" },
    }[kind];
    let f;
    try { f = new Intl.DateTimeFormat(locale, { ...opts, timeZone: tz }); }
    catch { f = new Intl.DateTimeFormat(locale, opts); } // unknown zone: fall back to the browser's
    return (fmtCache[key] = f);
  }

  function localTime(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return "—";
    const sameDay = fmt("day").format(d) === fmt("day").format(new Date());
    return sameDay ? fmt("time").format(d) : fmt("short").format(d);
  }

  function ageText(ms) {
    if (ms == null) return t("ageNone");
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 3) return t("ageNow");
    if (s < 60) return t("ageSec", { n: s });
    if (s < 3600) return t("ageMin", { n: Math.floor(s / 60) });
    if (s < 86400) return t("ageHour", { n: Math.floor(s / 3600) });
    return t("ageDay", { n: Math.floor(s / 86400) });
  }

  function staleClass(ms) {
    if (ms == null || ms > STALE_BAD_MS) return "stale-bad";
    if (ms > STALE_WARN_MS) return "stale-warn";
    return "fresh";
  }

  function ageOf(iso) {
    if (!iso) return null;
    const d = Date.parse(iso);
    return isNaN(d) ? null : Date.now() - d;
  }

  // ---------------------------------------------------------------- HTTP
  class HttpError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(path, options = {}) {
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(path, {
      method: options.method || "GET",
      headers,
      body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
      cache: "no-store",
    });
    if (res.status === 401 && !options.anonymous) {
      onUnauthorized();
      throw new HttpError(401, "unauthorized");
    }
    if (!res.ok) throw new HttpError(res.status, `${res.status} ${path}`);
    return res.status === 204 ? null : res.json();
  }

  // ---------------------------------------------------------------- auth
  function loadToken() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(SS_TOKEN) || "null");
      if (saved && saved.access_token && (!saved.expires_at || saved.expires_at > Date.now() + 5000)) return saved;
    } catch { /* ignore */ }
    sessionStorage.removeItem(SS_TOKEN);
    return null;
  }

  async function signIn(username, password) {
    const res = await api("/api/auth/token", { method: "POST", body: { username, password }, anonymous: true });
    const saved = {
      access_token: res.access_token,
      expires_at: res.expires_in ? Date.now() + res.expires_in * 1000 : null,
      role: res.role, grids: res.grids || [], community: res.community || null,
    };
    sessionStorage.setItem(SS_TOKEN, JSON.stringify(saved));
    state.token = saved.access_token;
    return saved;
  }

  function dropToken() {
    state.token = null;
    sessionStorage.removeItem(SS_TOKEN);
  }

  function onUnauthorized() {
    if (!state.token) return;
    dropToken();
    stopHub();
    stopPolling();
    // A demo wall screen signs itself in again (at most once a minute); otherwise a person must.
    if (state.config.demo && state.config.demo_login && Date.now() - state.lastAutoLogin > 60000) {
      state.lastAutoLogin = Date.now();
      autoLogin().catch(() => showLogin());
    } else {
      showLogin();
    }
  }

  async function autoLogin() {
    const { username, password } = state.config.demo_login;
    const session = await signIn(username, password);
    await startSession(session);
  }

  function showLogin(message) {
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    if (state.config.demo_login && !$("login-user").value) {
      $("login-user").value = state.config.demo_login.username;
      $("login-pass").value = state.config.demo_login.password;
    }
    $("login-user").focus();
  }

  async function onLoginSubmit(ev) {
    ev.preventDefault();
    const user = $("login-user").value.trim();
    const pass = $("login-pass").value;
    try {
      const session = await signIn(user, pass);
      $("login").hidden = true;
      $("login-pass").value = "";
      await startSession(session);
    } catch (e) {
      $("login-error").textContent = e instanceof HttpError && (e.status === 401 || e.status === 400 || e.status === 403)
        ? t("loginFailed") : t("loginUnreachable");
    }
  }

  // ---------------------------------------------------------------- session: communities, data, hub
  async function startSession(session) {
    $("login").hidden = true;
    state.communities = await api("/api/communities");
    const remembered = localStorage.getItem(LS_COMMUNITY);
    const ids = state.communities.map((c) => c.id);
    state.community = [remembered, session && session.community, ids[0]].find((id) => id && ids.includes(id)) || null;
    renderCommunitySelect();
    renderCommunityName();
    await loadCommunity();
    startHub();
  }

  function communityName() {
    const c = state.communities.find((x) => x.id === state.community);
    return c ? c.name : state.community || "—";
  }

  function gridName(gridId) {
    if (!gridId) return t("unassigned");
    const c = state.communities.find((x) => x.id === state.community);
    const g = c && (c.grids || []).find((x) => x.id === gridId);
    return g ? g.name : gridId;
  }

  async function loadCommunity() {
    state.tiles = null;
    state.alerts.clear();
    state.selectedAlert = null;
    renderTiles(); renderAlerts(); renderDetail();
    if (!state.community) return;
    await Promise.all([refreshTiles(), refreshAlerts(false)]);
  }

  async function refreshTiles() {
    const community = state.community;
    const tiles = await api(`/api/tiles?community=${encodeURIComponent(community)}`);
    if (community === state.community) onTiles(tiles);
  }

  async function refreshAlerts(highlightNew) {
    const community = state.community;
    const list = await api(`/api/alerts?community=${encodeURIComponent(community)}&status=open`);
    if (community !== state.community) return;
    // The server's list is the truth: anything we still show as open that it no longer lists was closed meanwhile.
    const ids = new Set((list || []).map((a) => a.id));
    for (const [id, a] of state.alerts) if (!ids.has(id) && a.status === "open" && id !== state.selectedAlert) state.alerts.delete(id);
    for (const a of list || []) upsertAlert(a, highlightNew && !state.alerts.has(a.id));
    renderAlerts();
  }

  async function changeCommunity(id) {
    state.community = id;
    localStorage.setItem(LS_COMMUNITY, id);
    renderCommunityName();
    try { await loadCommunity(); } catch (e) { console.warn(e); }
    if (state.hub && state.conn === "live") {
      try { onTiles(await state.hub.invoke("Watch", id)); } catch (e) { console.warn("Watch failed", e); }
    }
  }

  // ---- SignalR
  function startHub() {
    stopHub();
    if (!window.signalR) { // library missing (wwwroot/lib not built): stay on HTTP polling
      setConnection("offline");
      startPolling();
      return;
    }
    const hub = new signalR.HubConnectionBuilder()
      .withUrl("/hubs/cockpit", { accessTokenFactory: () => state.token })
      .withAutomaticReconnect([0, 2000, 5000, 10000, 20000, 30000, 30000, 30000])
      .configureLogging(signalR.LogLevel.Warning)
      .build();
    state.hub = hub;

    hub.on("tiles", (tiles) => { if (tiles && tiles.community === state.community) onTiles(tiles); });
    hub.on("alert", (a) => { if (a && a.community === state.community) { upsertAlert(a, true); renderAlerts(); } });
    hub.on("alertUpdated", (a) => { if (a && a.community === state.community) { upsertAlert(a, false); renderAlerts(); renderDetail(); } });

    hub.onreconnecting(() => { setConnection("reconnecting"); startPolling(); });
    hub.onreconnected(async () => {
      setConnection("live");
      stopPolling();
      await catchUp(hub);
    });
    hub.onclose(() => {
      if (state.hub !== hub) return;
      setConnection("offline");
      startPolling();
      scheduleHubStart(hub);
    });
    connectHub(hub);
  }

  async function connectHub(hub) {
    if (state.hub !== hub) return;
    setConnection(state.hubRetry === 0 ? "connecting" : "reconnecting");
    try {
      await hub.start();
      if (state.hub !== hub) { hub.stop(); return; }
      state.hubRetry = 0;
      setConnection("live");
      stopPolling();
      await catchUp(hub);
    } catch (e) {
      if (state.hub !== hub) return;
      console.warn("hub start failed", e);
      setConnection("offline");
      startPolling();
      scheduleHubStart(hub);
    }
  }

  function scheduleHubStart(hub) {
    clearTimeout(state.hubTimer);
    const delays = [2000, 5000, 10000, 20000, 30000];
    const delay = delays[Math.min(state.hubRetry, delays.length - 1)];
    state.hubRetry++;
    state.hubTimer = setTimeout(() => connectHub(hub), delay);
  }

  async function catchUp(hub) {
    try {
      if (state.lastSequence > 0) {
        const missed = await hub.invoke("AlertsSince", state.lastSequence);
        for (const a of missed || []) if (a.community === state.community) upsertAlert(a, true);
        renderAlerts(); renderDetail();
      }
      if (state.community) onTiles(await hub.invoke("Watch", state.community));
    } catch (e) {
      console.warn("catch-up failed", e);
    }
  }

  function stopHub() {
    clearTimeout(state.hubTimer);
    const hub = state.hub;
    state.hub = null;
    state.hubRetry = 0;
    if (hub) hub.stop().catch(() => {});
  }

  // ---- HTTP fallback while the hub is not live: figures keep refreshing, their age stays honest.
  function startPolling() {
    if (state.pollTimer) return;
    state.pollTimer = setInterval(() => {
      if (!state.token || !state.community) return;
      refreshTiles().catch(() => {});
      refreshAlerts(true).catch(() => {});
    }, POLL_MS);
  }

  function stopPolling() {
    clearInterval(state.pollTimer);
    state.pollTimer = null;
  }

  function setConnection(conn) {
    state.conn = conn;
    const el = $("conn");
    el.className = `conn conn-${conn}`;
    const key = { live: "connLive", reconnecting: "connReconnecting", connecting: "connConnecting" }[conn] || "connOffline";
    $("conn-text").textContent = t(key);
    el.title = conn === "live" ? "" : t("connOfflineHint");
  }

  // The contract's JSON is snake_case. SignalR's default JSON protocol camel-cases property names
  // (dataAsOf, openAlertsByGrid) unless the host configures otherwise; accept both. Dictionary keys
  // (grid ids under open_alerts_by_grid) are data, never renamed.
  function snakeKeys(value, isDictionary) {
    if (Array.isArray(value)) return value.map((v) => snakeKeys(v, false));
    if (!value || typeof value !== "object") return value;
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      const key = isDictionary ? k : k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      out[key] = snakeKeys(v, key === "open_alerts_by_grid");
    }
    return out;
  }

  // ---------------------------------------------------------------- tiles
  function onTiles(tiles) {
    if (!tiles) return;
    state.tiles = snakeKeys(tiles, false);
    renderTiles();
  }

  // Figures of six digits and more (the ingest rate during a backfill) go compact, 20.6万 / 206K, so they fit their tile.
  const num = (v) => (v == null || isNaN(v) ? "—" : Number(v).toLocaleString(state.lang === "zh" ? "zh-CN" : "en-US",
    Math.abs(Number(v)) >= 100000 ? { notation: "compact", maximumFractionDigits: 0 } : undefined));

  function setField(name, text) {
    for (const el of document.querySelectorAll(`[data-field="${name}"]`)) {
      el.textContent = text;
      // A long figure (72,636) gets a smaller size so it and its unit still fit the tile.
      el.classList.toggle("long", el.classList.contains("big") && String(text).length >= 5);
    }
  }

  function renderTiles() {
    const x = state.tiles || {};
    setField("households", num(x.households_monitored));
    setField("cameras-online", num(x.cameras_online));
    setField("cameras-total", num(x.cameras_total));
    setBar("cameras-bar", x.cameras_total ? x.cameras_online / x.cameras_total : null, true);
    setField("gate", num(x.gate_passes_today));
    setField("parking-free", num(x.parking_free));
    setField("parking-capacity", num(x.parking_capacity));
    setField("open-alerts", num(x.open_alerts));
    setField("closure", x.closure_rate == null ? "—" : (x.closure_rate * 100).toFixed(x.closure_rate >= 0.995 || x.closure_rate === 0 ? 0 : 1));
    setBar("closure-bar", x.closure_rate, true);
    setField("ingest", num(x.readings_last_minute));
    setField("deadletters", num(x.deadletters_last_hour));
    setField("silent", num(x.devices_silent));

    const q = (sel) => document.querySelector(`[data-tile="${sel}"]`);
    q("alerts").classList.toggle("attention", (x.open_alerts || 0) > 0);
    q("deadletters").classList.toggle("attention-warn", (x.deadletters_last_hour || 0) > 0);
    q("silent").classList.toggle("attention-warn", (x.devices_silent || 0) > 0);
    q("cameras").classList.toggle("attention-warn", x.cameras_total > 0 && x.cameras_online < x.cameras_total);

    renderLots(x.parking || []);
    renderByGrid(x.open_alerts_by_grid || {});
    renderAges();
  }

  function setBar(name, ratio, goodWhenHigh) {
    for (const el of document.querySelectorAll(`[data-field="${name}"]`)) {
      const r = ratio == null || isNaN(ratio) ? 0 : Math.max(0, Math.min(1, ratio));
      el.style.width = `${(r * 100).toFixed(1)}%`;
      el.classList.toggle("low", goodWhenHigh && ratio != null && r < 0.8);
      el.classList.toggle("very-low", goodWhenHigh && ratio != null && r < 0.5);
    }
  }

  function renderLots(lots) {
    const ul = document.querySelector('[data-field="lots"]');
    ul.replaceChildren();
    if (!state.tiles) return;
    if (!lots.length) { ul.append(el("li", "empty", t("noLots"))); return; }
    for (const lot of lots.slice(0, 4)) {
      const li = el("li", "lot");
      li.dataset.asOf = lot.as_of || "";
      const ratio = lot.capacity ? lot.free / lot.capacity : 0;
      const bar = el("div", "lot-bar");
      const fill = el("div", "lot-fill" + (ratio < 0.05 ? " full" : ratio < 0.15 ? " tight" : ""));
      fill.style.width = `${(Math.max(0, Math.min(1, ratio)) * 100).toFixed(1)}%`;
      bar.append(fill);
      li.append(el("span", "lot-name", lot.lot), bar,
        el("span", "lot-num", `${num(lot.free)}/${num(lot.capacity)}`), el("span", "lot-age"));
      ul.append(li);
    }
  }

  function renderByGrid(byGrid) {
    const ul = document.querySelector('[data-field="by-grid"]');
    ul.replaceChildren();
    if (!state.tiles) return;
    const entries = Object.entries(byGrid).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
    if (!entries.length) { ul.append(el("li", "empty", t("noOpenAlerts"))); return; }
    for (const [grid, n] of entries.slice(0, 6)) {
      const li = el("li", "grid-chip");
      li.append(el("span", "grid-name", gridName(grid === "" || grid === "null" || grid === "-" ? null : grid)), el("span", "grid-num", num(n)));
      ul.append(li);
    }
  }

  // Age of every figure, recomputed every second: a stale figure must never pass for a live one.
  function renderAges() {
    const x = state.tiles;
    const asOf = x ? x.data_as_of || x.as_of : null;
    const age = x ? ageOf(asOf) : null;
    const cls = staleClass(age);
    for (const tile of document.querySelectorAll(".tile")) {
      tile.classList.remove("fresh", "stale-warn", "stale-bad", "nodata");
      tile.classList.add(x ? cls : "nodata");
      const footer = tile.querySelector("[data-age]");
      footer.textContent = x ? t("updated", { age: ageText(age) }) + (cls === "stale-warn" ? ` · ${t("staleWarn")}` : cls === "stale-bad" ? ` · ${t("staleBad")}` : "") : t("ageNone");
    }
    for (const li of document.querySelectorAll(".lot")) {
      const lotAge = ageOf(li.dataset.asOf);
      const span = li.querySelector(".lot-age");
      if (lotAge == null) { span.textContent = ""; continue; }
      span.textContent = ageText(lotAge);
      span.className = `lot-age ${staleClass(lotAge)}`;
    }
    // The store's state and spool depth: an outage is shown, and so is the fact that nothing is being lost.
    const store = $("store-state");
    const storeState = x ? x.store_state : null;
    store.className = `data-age ${storeState === "ok" ? "fresh" : storeState === "spooling" ? "stale-warn" : "stale-bad"}`;
    $("store-state-value").textContent = !storeState ? "—"
      : t(storeState === "ok" ? "storeOk" : storeState === "spooling" ? "storeSpooling" : "storeDown", { n: num(x.spool_depth || 0) });
    store.title = t("storeHint");
    const head = $("data-age");
    head.className = `data-age ${x ? cls : "stale-bad"}`;
    $("data-age-value").textContent = x ? ageText(age) : t("ageNone");
    head.title = asOf ? `${t("dataAge")}: ${asOf}` : "";
  }

  // ---------------------------------------------------------------- alerts
  function upsertAlert(raw, isNew) {
    const a = snakeKeys(raw, false);
    if (!a || !a.id) return;
    if (typeof a.sequence === "number" && a.sequence > state.lastSequence) state.lastSequence = a.sequence;
    const prev = state.alerts.get(a.id);
    if (prev && typeof prev.sequence === "number" && typeof a.sequence === "number" && a.sequence < prev.sequence) return; // older copy
    a._fresh = isNew && !prev ? Date.now() : prev ? prev._fresh : 0;
    state.alerts.set(a.id, a);
    if (state.alerts.size > MAX_ALERTS) {
      const oldest = sortedAlerts().slice(MAX_ALERTS);
      for (const o of oldest) if (o.id !== state.selectedAlert) state.alerts.delete(o.id);
    }
  }

  function sortedAlerts() {
    const time = (a) => Date.parse(a.raised_at || a.started_at) || 0;
    return [...state.alerts.values()].sort((a, b) => time(b) - time(a) || (b.sequence || 0) - (a.sequence || 0));
  }

  function kindText(kind) {
    const s = I18N[state.lang][`kind_${kind}`];
    return s || (kind || "").replace(/_/g, " ");
  }

  function renderAlerts() {
    const list = $("alert-list");
    const alerts = sortedAlerts();
    const openCount = alerts.filter((a) => a.status !== "resolved").length;
    $("feed-count").textContent = alerts.length ? t("feedCount", { n: openCount }) : "";
    $("feed-empty").hidden = alerts.length > 0;
    list.replaceChildren();
    for (const a of alerts) {
      const li = el("li", `alert sev-${a.severity || "info"} st-${a.status || "open"}`);
      li.tabIndex = 0;
      li.dataset.id = a.id;
      if (a.id === state.selectedAlert) { li.classList.add("selected"); requestAnimationFrame(() => li.scrollIntoView({ block: "nearest" })); }
      if (a._fresh && Date.now() - a._fresh < 4000) li.classList.add("fresh-in");

      const top = el("div", "alert-top");
      top.append(el("span", "sev-badge", t(`sev_${a.severity}`)), el("span", "alert-kind", kindText(a.kind)),
        el("time", "alert-time", localTime(a.raised_at || a.started_at)));
      const bottom = el("div", "alert-bottom");
      const where = [gridName(a.grid)];
      if (a.household) where.push(`${t("household")} ${a.household}`);
      if (a.device) where.push(`${t("device")} ${a.device}`);
      bottom.append(el("span", "alert-where", where.join(" · ")), el("span", `status-badge st-${a.status}`, t(`st_${a.status}`)));
      li.append(top, bottom);
      li.addEventListener("click", () => selectAlert(a.id));
      li.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); selectAlert(a.id); } });
      list.append(li);
    }
  }

  function selectAlert(id) {
    state.selectedAlert = state.selectedAlert === id ? null : id;
    renderAlerts();
    renderDetail();
  }

  function renderDetail() {
    const panel = $("detail");
    const a = state.selectedAlert && state.alerts.get(state.selectedAlert);
    document.querySelector(".feed").classList.toggle("has-detail", !!a);
    if (!a) { panel.hidden = true; return; }
    panel.hidden = false;
    panel.className = `detail sev-${a.severity || "info"}`;
    $("detail-title").textContent = kindText(a.kind);
    const meta = $("detail-meta");
    meta.replaceChildren();
    const add = (label, value) => { if (value) meta.append(el("span", "k", label), el("span", "v", value)); };
    add(t("grid"), gridName(a.grid));
    add(t("household"), a.household);
    add(t("device"), a.device);
    // An alert that joined another's incident names that first alert's kind and time (its id means nothing to a person).
    const lead = a.incident && a.incident !== a.id ? state.alerts.get(a.incident) : null;
    if (a.incident && a.incident !== a.id) add(t("incident"), lead ? `${kindText(lead.kind)} · ${localTime(lead.raised_at)}` : a.incident);
    add(t("startedAt"), a.started_at && localTime(a.started_at));
    add(t("raisedAt"), a.raised_at && localTime(a.raised_at));
    meta.append(el("span", "k", ""), el("span", `v status-badge st-${a.status}`, t(`st_${a.status}`)));
    add(t("note"), a.note);
    add(t("updatedBy"), a.updated_by);
    $("detail-summary").textContent = (a.evidence && a.evidence.summary) || "";

    const charts = $("detail-charts");
    charts.replaceChildren();
    const points = (a.evidence && a.evidence.points) || [];
    if (!points.length) { charts.append(el("p", "empty", t("noEvidence"))); return; }
    const byMetric = new Map();
    for (const p of points) {
      const m = p.metric || "value";
      if (!byMetric.has(m)) byMetric.set(m, []);
      byMetric.get(m).push(p);
    }
    // Lay the figures out first, then draw each chart at its box's real pixel size (crisp text, no letterboxing).
    const boxes = [];
    for (const [metric, pts] of [...byMetric].slice(0, 3)) {
      pts.sort((p, q) => (Date.parse(p.t) || 0) - (Date.parse(q.t) || 0));
      const fig = el("figure", "chart");
      const box = el("div", "chart-box");
      fig.append(el("figcaption", "", metric), box);
      charts.append(fig);
      boxes.push([box, pts]);
    }
    for (const [box, pts] of boxes) {
      const W = Math.max(200, box.clientWidth), H = Math.max(60, box.clientHeight);
      box.append(pts.length >= 2 ? lineChart(pts, W, H) : barChart(pts[0], W, H));
    }
  }

  // ---------------------------------------------------------------- inline SVG charts
  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
    if (text != null) n.textContent = text;
    return n;
  }

  const short = (v) => {
    if (v == null || isNaN(v)) return "—";
    const a = Math.abs(v);
    return a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
  };

  // Sizes are CSS pixels; text sizes come from styles.css (rem), so the charts scale with the screen.
  function lineChart(pts, W, H) {
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    const L = 3.6 * rem, R = 1 * rem, T = 0.6 * rem, B = 1.5 * rem;
    const times = pts.map((p) => Date.parse(p.t) || 0);
    const vals = pts.flatMap((p) => [p.expected, p.observed]).filter((v) => typeof v === "number");
    let lo = Math.min(0, ...vals), hi = Math.max(...vals, 0);
    if (hi === lo) hi = lo + 1;
    const t0 = Math.min(...times), t1 = Math.max(...times);
    const x = (tm) => L + ((tm - t0) / (t1 - t0 || 1)) * (W - L - R);
    const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
    const s = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "chart-svg", role: "img" });
    for (const v of [lo, (lo + hi) / 2, hi]) {
      s.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid-line" }));
      s.append(svg("text", { x: L - 0.4 * rem, y: y(v), class: "axis", "text-anchor": "end", "dominant-baseline": "middle" }, short(v)));
    }
    s.append(svg("text", { x: L, y: H - 0.2 * rem, class: "axis", "text-anchor": "start" }, localTime(pts[0].t)));
    s.append(svg("text", { x: W - R, y: H - 0.2 * rem, class: "axis", "text-anchor": "end" }, localTime(pts[pts.length - 1].t)));
    const path = (key) => pts.filter((p) => typeof p[key] === "number")
      .map((p, i) => `${i ? "L" : "M"}${x(Date.parse(p.t) || 0).toFixed(1)},${y(p[key]).toFixed(1)}`).join(" ");
    const e = path("expected"), o = path("observed");
    if (e) s.append(svg("path", { d: e, class: "line-expected" }));
    if (o) s.append(svg("path", { d: o, class: "line-observed" }));
    for (const p of pts) if (typeof p.observed === "number")
      s.append(svg("circle", { cx: x(Date.parse(p.t) || 0), cy: y(p.observed), r: 0.25 * rem, class: "dot-observed" }));
    return s;
  }

  function barChart(p, W, H) {
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    const L = 5.5 * rem, R = 5 * rem;
    const barH = Math.min(2 * rem, (H - rem) / 2);
    const vals = [p.expected, p.observed].filter((v) => typeof v === "number");
    const hi = Math.max(...vals, 0) || 1;
    const s = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "chart-svg", role: "img" });
    [["expected", p.expected, 0.2 * rem], ["observed", p.observed, 0.2 * rem + barH + 0.6 * rem]].forEach(([key, v, yy]) => {
      const mid = yy + barH / 2;
      s.append(svg("text", { x: L - 0.6 * rem, y: mid, class: "bar-label", "text-anchor": "end", "dominant-baseline": "middle" }, t(key)));
      const w = typeof v === "number" ? Math.max(2, (Math.max(0, v) / hi) * (W - L - R)) : 0;
      s.append(svg("rect", { x: L, y: yy, width: w, height: barH, rx: 0.2 * rem, class: `bar-${key}` }));
      s.append(svg("text", { x: L + w + 0.5 * rem, y: mid, class: "bar-value", "dominant-baseline": "middle" }, short(v)));
    });
    return s;
  }

  // ---------------------------------------------------------------- header
  function renderCommunitySelect() {
    const sel = $("community-select");
    sel.replaceChildren();
    for (const c of state.communities) {
      const o = document.createElement("option");
      o.value = c.id; o.textContent = c.name;
      sel.append(o);
    }
    sel.value = state.community || "";
    sel.hidden = state.communities.length < 2;
  }

  function renderCommunityName() {
    $("community-name").textContent = communityName();
    document.title = `${t("pageTitle")} · ${communityName()}`;
  }

  function tick() {
    const now = new Date();
    $("clock-time").textContent = fmt("time").format(now);
    $("clock-date").textContent = fmt("date").format(now);
    renderAges();
    // The "new alert" highlight lasts a few seconds.
    for (const li of document.querySelectorAll(".alert.fresh-in")) {
      const a = state.alerts.get(li.dataset.id);
      if (!a || Date.now() - a._fresh > 4000) li.classList.remove("fresh-in");
    }
  }

  function el(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = text;
    return n;
  }

  // ---------------------------------------------------------------- boot
  async function boot() {
    initLanguage();
    $("lang-switch").addEventListener("click", toggleLanguage);
    $("login-form").addEventListener("submit", onLoginSubmit);
    $("community-select").addEventListener("change", (e) => changeCommunity(e.target.value));
    $("detail-close").addEventListener("click", () => selectAlert(state.selectedAlert));
    applyLanguage();
    setInterval(tick, 1000);
    let resizeTimer;
    window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(renderDetail, 200); });

    try {
      state.config = { ...state.config, ...(await api("/api/config", { anonymous: true })) };
      fmtCache = {};
      tick();
    } catch (e) {
      console.warn("config unavailable", e);
    }

    const saved = loadToken();
    try {
      if (saved) {
        state.token = saved.access_token;
        await startSession(saved);
      } else if (state.config.demo && state.config.demo_login) {
        state.lastAutoLogin = Date.now();
        await autoLogin();
      } else {
        showLogin();
      }
    } catch (e) {
      console.warn("start failed", e);
      if (e instanceof HttpError && e.status === 401) {
        if ($("login").hidden) showLogin(t("loginFailed")); // e.g. the demo login was refused
      } else {
        // Server unreachable or erroring: keep trying; the header shows offline and the data age.
        setConnection("offline");
        setTimeout(() => location.reload(), 30000);
      }
    }
  }

  document.addEventListener("DOMContentLoaded", boot);
})();
