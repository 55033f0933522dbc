// Sensing wall screen (数字驾驶舱). Plain JS, no framework, no network resources but the cockpit's own
// (lib/signalr.min.js and lib/echarts.min.js are copied from npm at build time).
//
// Server surface used (keep in sync with cockpit/*.cs, README.md and CONTRACT.md):
//   GET  /api/config                         anonymous: { demo, demo_login:{username,password}|null, time_zone }
//   POST /api/auth/token                     { username, password } → { access_token, expires_in, role, grids, community }
//   GET  /api/communities                    [{ id, name, grids:[{ id, name }] }]
//   GET  /api/tiles?community=ID             tiles, with freshness:{ <tile>: { as_of, period_s } } and closure (when served)
//   GET  /api/charts?community=ID&hours=24   { gate_flow:{ as_of, period_s, points:[{t, passes}] }, parking:[{ lot, as_of, points:[{t, occupancy}] }] }
//   GET  /api/alerts?community=ID            [alert], newest first (every status)
//   GET  /api/alerts/{id}/actions            [{ at, by, role, action, note }] (when served; else built from the alert's fields)
//   hub  /hubs/cockpit (access_token)        invoke Watch(communityId) → tiles; invoke AlertsSince(sequence) → [alert]
//                                            events: tiles(tiles), alert(alert), alertUpdated(alert)
"use strict";

(() => {
  // ---------------------------------------------------------------- i18n
  const I18N = {
    zh: {
      pageTitle: "数字驾驶舱", title: "数字驾驶舱", community: "社区", dataAge: "数据", ingest: "接入",
      perMin: "{n} 条/分", connLive: "实时", connReconnecting: "重连中", connOffline: "离线", connConnecting: "连接中",
      store: "存储", storeOk: "正常", storeSpooling: "补写中 {n} 批", storeDown: "故障 · 本地缓存 {n} 批", storeUnreadable: "无法读取 · 自 {from}",
      storeHint: "存储故障时数据先写入本地缓存，恢复后按序补写，不丢数据",
      broker: "消息", brokerOk: "正常", brokerDown: "断开 · 自 {from}", brokerGap: "已恢复 · 中断 {from}–{to}（{s} 秒）",
      brokerHint: "接入与 MQTT 代理的连接：断开期间设备消息留在代理处，重连后补收；断开期间图表可能出现缺口",
      connOfflineHint: "实时通道未连接，每 15 秒刷新一次",
      tHouseholds: "监护住户", uHouseholds: "户", tHouseholdsSub: "独居老人用水用电监测",
      tCameras: "摄像头在线", tGate: "今日门禁通行", uTimes: "人次", tGateSub: "自当地零点起",
      tParking: "空余车位", tOpenAlerts: "待处理告警", uItems: "条", tClosure: "告警闭环率",
      closureSub: "近 7 天已解决 {resolved} / {raised}", closureSubPlain: "近 7 天已解决占比",
      tTimeToClose: "平均处置时长", ttcSub: "平均响应 {ack}", ttcNone: "尚无已解决告警",
      tHealth: "设备健康", hSilent: "失联", hDeadletter: "报文异常", healthSub: "报文异常：{ids}", healthOk: "全部设备正常上报",
      noLots: "暂无停车场数据", noOpenAlerts: "各网格均无待处理告警", unassigned: "未分配网格",
      cGateFlow: "门禁通行 · 近24小时", cGateFlowUnit: "人次/小时", cParking: "车位占用率 · 近24小时", cParkingUnit: "各停车场每小时平均",
      passes: "通行", occupancy: "占用率", nearFull: "将满", noData: "无数据", chartsUnavailable: "图表库未加载",
      gridMap: "网格态势", mapCalm: "无告警", mapWarn: "有告警", mapCritical: "严重", mapEscalated: "已升级", mapEmpty: "该社区暂无网格",
      mapOpen: "{n} 条待处理", mapEscalatedN: "{n} 条已升级",
      feedTitle: "实时告警", feedEmpty: "暂无告警", feedCount: "待处理 {n}",
      expected: "预期", observed: "实测", close: "关闭", noEvidence: "无证据数据",
      household: "住户", device: "设备", grid: "网格", startedAt: "开始", raisedAt: "告警", receivedAt: "接收", note: "备注",
      updatedBy: "处理人", incident: "所属事件",
      respondBy: "响应时限", overdue: "已超时 {d}", remaining: "剩余 {d}", escalation: "升级",
      esc_grid_leader: "已升级至网格长", esc_control_room: "已升级至指挥中心",
      act_raised: "告警", act_acknowledged: "确认", act_on_the_way: "出发", act_resolved: "解决", act_escalated: "升级",
      actTo: "至{who}", who_grid_leader: "网格长", who_control_room: "指挥中心", actions: "处置记录",
      loginTitle: "登录数字驾驶舱", username: "用户名", password: "密码", signIn: "登录",
      loginFailed: "用户名或密码错误", loginUnreachable: "无法连接服务器",
      ageNone: "无数据", ageNow: "刚刚", ageSec: "{n} 秒前", ageMin: "{n} 分钟前", ageHour: "{n} 小时前", ageDay: "{n} 天前",
      updated: "{age}更新", staleWarn: "数据延迟", staleBad: "数据过期",
      durSec: "{n} 秒", durMin: "{n} 分钟", durHour: "{n} 小时", durDay: "{n} 天",
      uSec: "秒", uMin: "分钟", uHour: "小时", uDay: "天",
      kind_living_alone_drop: "独居老人用水用电骤降", kind_device_silent: "设备失联", kind_water_leak: "疑似漏水",
      kind_parking_full: "车位已满", kind_gate_forced: "门禁强行开启", kind_camera_event: "摄像头事件",
      kind_parking_overstay: "车位超时占用", kind_gate_held_open: "门禁长时间未关", kind_gate_night_activity: "夜间通行异常",
      "m_water.consumption": "用水量 (m³)", "m_electricity.consumption": "用电量 (kWh)", "m_water.flow": "用水流量",
      "m_gate.pass": "通行人次", "m_parking.free": "空余车位", "m_silence_minutes": "未上报时长 (分钟)",
      sev_info: "提示", sev_warning: "警告", sev_critical: "严重",
      st_open: "未处理", st_acknowledged: "已确认", st_on_the_way: "已出发", st_resolved: "已解决", st_escalated: "已升级",
      langButton: "EN",
    },
    en: {
      pageTitle: "Digital Cockpit", title: "Digital Cockpit", community: "Community", dataAge: "Data", ingest: "Ingest",
      perMin: "{n}/min", connLive: "Live", connReconnecting: "Reconnecting", connOffline: "Offline", connConnecting: "Connecting",
      store: "Store", storeOk: "OK", storeSpooling: "catching up {n} batches", storeDown: "down · {n} batches spooled", storeUnreadable: "not answering since {from}",
      storeHint: "While the store is down, data waits in a local spool and is written in order when it returns: nothing is lost",
      broker: "Broker", brokerOk: "OK", brokerDown: "disconnected since {from}", brokerGap: "back · gap {from}–{to} ({s} s)",
      brokerHint: "Ingest's link to the MQTT broker: while it is down, devices' messages wait at the broker and are taken on reconnect; figures of the gap may lag",
      connOfflineHint: "Live channel down; refreshing every 15 s",
      tHouseholds: "Households", uHouseholds: "", tHouseholdsSub: "Monitored: living alone, water & power",
      tCameras: "Cameras online", tGate: "Gate passes today", uTimes: "", tGateSub: "Since local midnight",
      tParking: "Free parking", tOpenAlerts: "Open alerts", uItems: "", tClosure: "Closure rate",
      closureSub: "Resolved {resolved} of {raised}, last 7 days", closureSubPlain: "Share resolved, last 7 days",
      tTimeToClose: "Mean time to close", ttcSub: "Mean response {ack}", ttcNone: "No alert resolved yet",
      tHealth: "Device health", hSilent: "silent", hDeadletter: "bad data", healthSub: "Bad data: {ids}", healthOk: "Every device reporting",
      noLots: "No parking lots reported", noOpenAlerts: "No open alerts in any grid", unassigned: "Unassigned",
      cGateFlow: "Gate passes · last 24 h", cGateFlowUnit: "per hour", cParking: "Parking occupancy · last 24 h", cParkingUnit: "hourly mean",
      passes: "Passes", occupancy: "Occupancy", nearFull: "near full", noData: "no data", chartsUnavailable: "Chart library not loaded",
      gridMap: "Grids", mapCalm: "Calm", mapWarn: "Open", mapCritical: "Critical", mapEscalated: "Escalated", mapEmpty: "No grids in this community",
      mapOpen: "{n} open", mapEscalatedN: "{n} escalated",
      feedTitle: "Live alerts", feedEmpty: "No alerts", feedCount: "{n} open",
      expected: "Expected", observed: "Observed", close: "Close", noEvidence: "No evidence data",
      household: "Household", device: "Device", grid: "Grid", startedAt: "Started", raisedAt: "Raised", receivedAt: "Received", note: "Note",
      updatedBy: "By", incident: "Incident",
      respondBy: "Respond by", overdue: "overdue {d}", remaining: "{d} left", escalation: "Escalation",
      esc_grid_leader: "Escalated to the grid leader", esc_control_room: "Escalated to the control room",
      act_raised: "Raised", act_acknowledged: "Acknowledged", act_on_the_way: "On the way", act_resolved: "Resolved", act_escalated: "Escalated",
      actTo: "to {who}", who_grid_leader: "grid leader", who_control_room: "control room", actions: "Actions",
      loginTitle: "Sign in to the Digital Cockpit", username: "Username", password: "Password", signIn: "Sign in",
      loginFailed: "Wrong username or password", loginUnreachable: "Cannot reach the server",
      ageNone: "no data", ageNow: "just now", ageSec: "{n}s ago", ageMin: "{n} min ago", ageHour: "{n} h ago", ageDay: "{n} d ago",
      updated: "Updated {age}", staleWarn: "Delayed", staleBad: "Stale",
      durSec: "{n} s", durMin: "{n} min", durHour: "{n} h", durDay: "{n} d",
      uSec: "s", uMin: "min", uHour: "h", uDay: "d",
      kind_living_alone_drop: "Living-alone usage drop", kind_device_silent: "Device silent", kind_water_leak: "Suspected water leak",
      kind_parking_full: "Parking full", kind_gate_forced: "Gate forced open", kind_camera_event: "Camera event",
      kind_parking_overstay: "Parking overstay", kind_gate_held_open: "Gate held open", kind_gate_night_activity: "Unusual night passes",
      "m_water.consumption": "Water (m³)", "m_electricity.consumption": "Electricity (kWh)", "m_water.flow": "Water flow",
      "m_gate.pass": "Passes", "m_parking.free": "Free spaces", "m_silence_minutes": "Silent for (min)",
      sev_info: "Info", sev_warning: "Warning", sev_critical: "Critical",
      st_open: "Open", st_acknowledged: "Acknowledged", st_on_the_way: "On the way", st_resolved: "Resolved", st_escalated: "Escalated",
      langButton: "中文",
    },
  };

  const TILES = ["households", "cameras", "gate-passes", "parking", "open-alerts", "closure-rate", "time-to-close", "device-health"];
  const FALLBACK_PERIOD_S = 60;        // a server without per-tile freshness: the newest data of any kind, a minute's period
  const VERY_STALE_FACTOR = 10;        // beyond 2× its period a tile is stale (amber); beyond 10× very stale (red)
  const POLL_MS = 15 * 1000;           // HTTP refresh while the hub is not live
  const CHARTS_MS = 60 * 1000;         // chart refresh: hourly buckets, the current hour grows
  const CHART_HOURS = 24;
  const MAX_ALERTS = 200;
  const RESOLVED_KEEP_MS = 24 * 3600 * 1000;
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
    charts: null,
    alerts: new Map(),         // id → alert
    actions: new Map(),        // id → [action] from /api/alerts/{id}/actions, or null when not served
    lastSequence: 0,
    selectedAlert: null,
    conn: "offline",           // connecting | live | reconnecting | offline
    hub: null,
    hubRetry: 0,
    hubTimer: null,
    pollTimer: null,
    chartsTimer: null,
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
    fmtCache = {};
    setConnection(state.conn);
    renderCommunityName();
    renderTiles();
    renderGridMap();
    renderCharts();
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
      hm: { hour: "2-digit", minute: "2-digit", hourCycle: "h23" },
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

  function hourLabel(iso) {
    const d = new Date(iso);
    return isNaN(d) ? "" : fmt("hm").format(d);
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

  // A duration in seconds as [figure, unit]: 42 s, 18 min, 2.5 h, 3.1 d.
  function durationParts(seconds) {
    if (seconds == null || isNaN(seconds)) return ["—", ""];
    const s = Math.max(0, seconds);
    const one = (v) => (v < 10 ? v.toFixed(1).replace(/\.0$/, "") : Math.round(v).toString());
    if (s < 60) return [Math.round(s).toString(), t("uSec")];
    if (s < 3600) return [one(s / 60), t("uMin")];
    if (s < 86400) return [one(s / 3600), t("uHour")];
    return [one(s / 86400), t("uDay")];
  }

  function durationText(seconds) {
    const [v, u] = durationParts(seconds);
    return state.lang === "zh" ? `${v} ${u}` : `${v} ${u}`;
  }

  // fresh | stale-warn (older than 2× its usual period) | stale-bad (10×, or no data at all)
  function staleClass(ageMs, periodS) {
    if (ageMs == null) return "stale-bad";
    const period = (periodS || FALLBACK_PERIOD_S) * 1000;
    if (ageMs > VERY_STALE_FACTOR * period) return "stale-bad";
    if (ageMs > 2 * period) return "stale-warn";
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
    if (state.token && !options.anonymous) headers.Authorization = `Bearer ${state.token}`;
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
    const wanted = new URLSearchParams(location.search).get("alert");
    if (wanted && state.alerts.has(wanted) && state.selectedAlert !== wanted) selectAlert(wanted);
    startHub();
    startChartsTimer();
  }

  function currentCommunity() {
    return state.communities.find((x) => x.id === state.community) || null;
  }

  function communityName() {
    const c = currentCommunity();
    return c ? c.name : state.community || "—";
  }

  function gridName(gridId) {
    if (!gridId) return t("unassigned");
    const c = currentCommunity();
    const g = c && (c.grids || []).find((x) => x.id === gridId);
    return g ? g.name : gridId;
  }

  async function loadCommunity() {
    state.tiles = null;
    state.charts = null;
    state.alerts.clear();
    state.actions.clear();
    state.selectedAlert = null;
    renderTiles(); renderGridMap(); renderCharts(); renderAlerts(); renderDetail();
    if (!state.community) return;
    await Promise.all([refreshTiles(), refreshAlerts(false), refreshCharts().catch((e) => console.warn("charts", e))]);
  }

  async function refreshTiles() {
    const community = state.community;
    const tiles = await api(`/api/tiles?community=${encodeURIComponent(community)}`);
    if (community === state.community) onTiles(tiles);
  }

  // Every status: open, escalated, acknowledged and on-the-way alerts are all still someone's job; resolved ones of
  // the last day stay visible, dimmed, so the room sees the loop closing.
  async function refreshAlerts(highlightNew) {
    const community = state.community;
    const list = await api(`/api/alerts?community=${encodeURIComponent(community)}`);
    if (community !== state.community) return;
    const ids = new Set((list || []).map((a) => a.id));
    for (const id of [...state.alerts.keys()]) if (!ids.has(id) && id !== state.selectedAlert) state.alerts.delete(id);
    for (const a of list || []) {
      if (a.status === "resolved" && Date.now() - (Date.parse(a.resolved_at || a.raised_at) || 0) > RESOLVED_KEEP_MS) continue;
      upsertAlert(a, highlightNew && !state.alerts.has(a.id));
    }
    renderAlerts(); renderGridMap(); renderDetail();
  }

  async function refreshCharts() {
    const community = state.community;
    if (!community || !state.token) return;
    const charts = await api(`/api/charts?community=${encodeURIComponent(community)}&hours=${CHART_HOURS}`);
    if (community !== state.community) return;
    state.charts = charts;
    renderCharts();
  }

  function startChartsTimer() {
    clearInterval(state.chartsTimer);
    state.chartsTimer = setInterval(() => refreshCharts().catch((e) => console.warn("charts", e)), CHARTS_MS);
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
    hub.on("alert", (a) => { if (a && a.community === state.community) { upsertAlert(a, true); renderAlerts(); renderGridMap(); } });
    const onUpdated = (a) => {
      if (a && a.community === state.community) {
        upsertAlert(a, false);
        state.actions.delete(a.id); // its audit trail grew: fetched again when shown
        renderAlerts(); renderGridMap(); renderDetail();
      }
    };
    hub.on("alertUpdated", onUpdated);
    // Escalations reach the wall as alertUpdated; a server that also names them "escalated" is understood the same way.
    hub.on("escalated", onUpdated);

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

  // After a (re)connect: every alert changed since the last sequence number seen, then fresh tiles (Watch rejoins the
  // community's group and returns them) and fresh charts, so nothing missed during the drop stays missing.
  async function catchUp(hub) {
    try {
      if (state.lastSequence > 0) {
        const missed = await hub.invoke("AlertsSince", state.lastSequence);
        for (const a of missed || []) if (a.community === state.community) { upsertAlert(a, true); state.actions.delete(a.id); }
        renderAlerts(); renderGridMap(); renderDetail();
      } else if (state.community) {
        await refreshAlerts(true); // nothing seen yet to count from: the list itself
      }
      if (state.community) onTiles(await hub.invoke("Watch", state.community));
      await refreshCharts();
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
    const node = $("conn");
    node.className = `conn conn-${conn}`;
    node.dataset.state = conn;
    const key = { live: "connLive", reconnecting: "connReconnecting", connecting: "connConnecting" }[conn] || "connOffline";
    $("conn-text").textContent = t(key);
    node.title = conn === "live" ? "" : t("connOfflineHint");
  }

  // The contract's JSON is snake_case. SignalR's default JSON protocol camel-cases property names
  // (dataAsOf, openAlertsByGrid) unless the host configures otherwise; accept both. Dictionary keys
  // (grid ids under open_alerts_by_grid, tile names under freshness) are data, never renamed.
  const DICTIONARIES = new Set(["open_alerts_by_grid", "freshness"]);
  function snakeKeys(value, isDictionary) {
    if (Array.isArray(value)) return value.map((v) => snakeKeys(v, false));
    if (!value || typeof value !== "object") return value;
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      const key = isDictionary ? k : k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      out[key] = snakeKeys(v, DICTIONARIES.has(key));
    }
    return out;
  }

  // ---------------------------------------------------------------- tiles
  function onTiles(tiles) {
    if (!tiles) return;
    const previous = state.tiles;
    state.tiles = snakeKeys(tiles, false);
    growGateFlow(previous, state.tiles);
    renderTiles();
    renderGridMap();
  }

  // Between chart refreshes the current hour's bar grows with the passes the tiles report (every 2 s over the hub),
  // so the chart is live; the next refresh replaces the estimate with the store's count.
  function growGateFlow(before, after) {
    const flow = state.charts && state.charts.gate_flow;
    if (!flow || !before || !after || before.community !== after.community) return;
    // No count on either side (the store did not answer): nothing to add, and a count coming back is not an hour's growth.
    if (before.gate_passes_today == null || after.gate_passes_today == null) return;
    const added = after.gate_passes_today - before.gate_passes_today;
    const last = (flow.points || [])[flow.points.length - 1];
    if (!(added > 0) || !last || Date.now() >= Date.parse(last.t) + 3600 * 1000) return; // midnight reset, or a new hour
    last.passes = (last.passes || 0) + added;
    const c = chartInstances["chart-gate-flow"];
    // Merged, not redrawn: only the last bar moves.
    if (c) c.setOption({ series: [{ data: flow.points.map((p) => (p.passes == null ? "-" : p.passes)) }] });
  }

  // Figures of six digits and more go compact, 20.6万 / 206K, so they fit their tile.
  const num = (v) => (v == null || isNaN(v) ? "—" : Number(v).toLocaleString(state.lang === "zh" ? "zh-CN" : "en-US",
    Math.abs(Number(v)) >= 100000 ? { notation: "compact", maximumFractionDigits: 0 } : undefined));

  function setField(name, text) {
    for (const node of document.querySelectorAll(`[data-field="${name}"]`)) {
      node.textContent = text;
      // A long figure (72,636) gets a smaller size so it and its unit still fit the tile.
      node.classList.toggle("long", node.classList.contains("big") && String(text).length >= 5);
    }
  }

  // The closed loop's figures: helper "loop"'s closure object (GET /api/alerts/closure for the community) when the
  // server sends it, else the tiles' own closure_rate; the time to close only from the closure object.
  function closureTotal(x) {
    return x && x.closure && typeof x.closure === "object" ? x.closure.total || null : null;
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

    const total = closureTotal(x);
    const rate = total && typeof total.closure_rate === "number" ? total.closure_rate : x.closure_rate;
    setField("closure", rate == null ? "—" : (rate * 100).toFixed(rate >= 0.995 || rate === 0 ? 0 : 1));
    setBar("closure-bar", rate, true);
    setField("closure-sub", !state.tiles ? "" : total && total.raised != null
      ? t("closureSub", { resolved: num(total.resolved), raised: num(total.raised) }) : t("closureSubPlain"));
    const ttc = total ? total.mean_time_to_resolve_s : null;
    const [ttcValue, ttcUnit] = durationParts(ttc);
    setField("ttc", ttcValue);
    setField("ttc-unit", ttcUnit);
    setField("ttc-sub", !state.tiles ? "" : ttc == null ? (total ? t("ttcNone") : "")
      : total.mean_time_to_acknowledge_s != null ? t("ttcSub", { ack: durationText(total.mean_time_to_acknowledge_s) }) : "");

    setField("silent", num(x.devices_silent));
    setField("deadlettering", num(x.deadlettering_devices));
    const ids = x.deadlettering_device_ids || [];
    setField("health-sub", !state.tiles ? "" : ids.length ? t("healthSub", { ids: ids.slice(0, 3).join(", ") + (ids.length > 3 ? " …" : "") })
      : (x.devices_silent || 0) === 0 ? t("healthOk") : "");

    const q = (sel) => document.querySelector(`[data-tile="${sel}"]`);
    q("open-alerts").classList.toggle("attention", (x.open_alerts || 0) > 0);
    q("cameras").classList.toggle("attention-warn", x.cameras_total > 0 && x.cameras_online < x.cameras_total);
    document.querySelector('[data-part="silent"]').classList.toggle("attention-warn", (x.devices_silent || 0) > 0);
    document.querySelector('[data-part="deadletter"]').classList.toggle("attention-warn", (x.deadlettering_devices || 0) > 0);

    renderLots(x.parking || []);
    renderByGrid(x.open_alerts_by_grid || {});
    renderAges();
  }

  function setBar(name, ratio, goodWhenHigh) {
    for (const node of document.querySelectorAll(`[data-field="${name}"]`)) {
      const r = ratio == null || isNaN(ratio) ? 0 : Math.max(0, Math.min(1, ratio));
      node.style.width = `${(r * 100).toFixed(1)}%`;
      node.classList.toggle("low", goodWhenHigh && ratio != null && r < 0.8);
      node.classList.toggle("very-low", goodWhenHigh && ratio != null && r < 0.5);
    }
  }

  function renderLots(lots) {
    const ul = document.querySelector('[data-field="lots"]');
    ul.replaceChildren();
    if (!state.tiles) return;
    if (!lots.length) { ul.append(el("li", "empty", t("noLots"))); return; }
    for (const lot of lots.slice(0, 3)) {
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
    for (const [grid, n] of entries.slice(0, 4)) {
      const li = el("li", "grid-chip");
      li.append(el("span", "grid-name", gridName(grid === "" || grid === "null" || grid === "-" ? null : grid)), el("span", "grid-num", num(n)));
      ul.append(li);
    }
  }

  // Each tile's freshness: the server's as_of (newest data behind the figure) and usual period; a server without
  // per-tile freshness falls back to the newest data of any kind.
  function freshnessOf(tile) {
    const x = state.tiles;
    if (!x) return { asOf: null, period: FALLBACK_PERIOD_S, known: false };
    const f = x.freshness && x.freshness[tile];
    if (f) return { asOf: f.as_of || null, period: f.period_s || FALLBACK_PERIOD_S, known: true };
    return { asOf: x.data_as_of || x.as_of || null, period: FALLBACK_PERIOD_S, known: true };
  }

  function ageLine(age, cls) {
    if (age == null) return t("ageNone");
    const tag = cls === "stale-warn" ? ` · ${t("staleWarn")}` : cls === "stale-bad" ? ` · ${t("staleBad")}` : "";
    return t("updated", { age: ageText(age) }) + tag;
  }

  // Recomputed every second: a stale figure must never pass for a live one, even when nothing new arrives.
  function renderAges() {
    const x = state.tiles;
    for (const name of TILES) {
      const tile = document.querySelector(`[data-tile="${name}"]`);
      const footer = tile.querySelector(".age");
      const { asOf, period, known } = freshnessOf(name);
      const age = ageOf(asOf);
      const cls = known ? staleClass(age, period) : "nodata";
      tile.classList.remove("fresh", "stale-warn", "stale-bad", "nodata");
      tile.classList.add(cls);
      tile.dataset.stale = String(cls !== "fresh");
      tile.dataset.asOf = asOf || "";
      footer.textContent = known ? ageLine(age, cls) : t("ageNone");
      footer.title = asOf ? `as_of ${asOf} · ${t("dataAge")} ≤ ${2 * period}s` : "";
    }
    for (const li of document.querySelectorAll(".lot")) {
      const lotAge = ageOf(li.dataset.asOf);
      const span = li.querySelector(".lot-age");
      if (lotAge == null) { span.textContent = ""; continue; }
      span.textContent = ageText(lotAge);
      span.className = `lot-age ${staleClass(lotAge, freshnessOf("parking").period)}`;
    }
    // The store's state and spool depth: an outage is shown, and so is the fact that nothing is being lost.
    // Both are the server's state when the tiles were computed: once the tiles stop arriving they are marked as old
    // news, so "store OK" is never shown as current during an outage of the cockpit itself.
    const tilesAge = x ? ageOf(x.as_of) : null;
    const tilesOld = tilesAge != null && tilesAge > 2 * 15000;
    const store = $("store-state");
    // A store that takes writes but does not answer the tiles' reads is as bad for the screen as one that is down: the
    // store's figures (gate passes, lots) are then its last read's, aged on their tiles.
    const unreadable = x && x.store_state === "ok" && x.store_unreadable_since ? x.store_unreadable_since : null;
    const storeState = !x ? null : unreadable ? "unreadable" : x.store_state;
    store.className = `pill ${tilesOld ? "stale-warn" : storeState === "ok" ? "fresh" : storeState === "spooling" ? "stale-warn" : "stale-bad"}`;
    store.dataset.state = storeState || "";
    $("store-state-value").textContent = (!storeState ? "—"
      : unreadable ? t("storeUnreadable", { from: localTime(unreadable) })
      : t(storeState === "ok" ? "storeOk" : storeState === "spooling" ? "storeSpooling" : "storeDown", { n: num(x.spool_depth || 0) }))
      + (storeState && tilesOld ? ` · ${ageText(tilesAge)}` : "");
    store.title = t("storeHint");
    // Ingest's broker link (issue 9): "disconnected since …" during an outage, then the last gap for an hour, so a dip
    // in the figures is explained on the screen itself.
    const link = x ? x.broker : null;
    const gap = link && link.last_gap;
    const gapRecent = gap && ageOf(gap.to) != null && ageOf(gap.to) < 3600 * 1000;
    const broker = $("broker-state");
    broker.className = `pill ${tilesOld ? "stale-warn" : !link ? "" : !link.connected ? "stale-bad" : gapRecent ? "stale-warn" : "fresh"}`;
    broker.dataset.state = !link ? "" : !link.connected ? "disconnected" : gapRecent ? "gap" : "ok";
    $("broker-state-value").textContent = !link ? "—"
      : !link.connected ? t("brokerDown", { from: link.disconnected_since ? localTime(link.disconnected_since) : "—" })
      : gapRecent ? t("brokerGap", { from: localTime(gap.from), to: localTime(gap.to), s: num(Math.round(gap.seconds)) })
      : t("brokerOk");
    broker.title = t("brokerHint");
    $("ingest-rate").className = `pill ${tilesOld ? "stale-warn" : ""}`;
    $("ingest-rate-value").textContent = x && x.readings_last_minute != null
      ? t("perMin", { n: num(x.readings_last_minute) }) + (tilesOld ? ` · ${ageText(tilesAge)}` : "") : "—";
    const newest = x ? x.data_as_of || null : null;
    const age = ageOf(newest);
    const cls = x ? staleClass(age, FALLBACK_PERIOD_S) : "stale-bad";
    const head = $("data-age");
    head.className = `pill ${cls}`;
    $("data-age-value").textContent = x ? ageText(age) : t("ageNone");
    head.title = newest ? `${t("dataAge")}: ${newest}` : "";
    renderChartAges();
  }

  // ---------------------------------------------------------------- grid map
  // A schematic of the community's grids (the registry has no geometry: one cell each, in id order), coloured by their
  // open alerts; a grid with an escalated alert pulses so the room sees it from across the floor.
  function renderGridMap() {
    const map = $("grid-map");
    map.replaceChildren();
    const c = currentCommunity();
    if (!c) return;
    const byGrid = (state.tiles && state.tiles.open_alerts_by_grid) || {};
    const stats = new Map();
    const statOf = (id) => {
      if (!stats.has(id)) stats.set(id, { open: 0, escalated: 0, critical: 0 });
      return stats.get(id);
    };
    for (const a of state.alerts.values()) {
      if (a.status === "resolved") continue;
      const s = statOf(a.grid || "-");
      s.open++;
      if (a.status === "escalated") s.escalated++;
      if (a.severity === "critical") s.critical++;
    }
    const grids = [...(c.grids || [])].map((g) => ({ id: g.id, name: g.name }));
    if ((byGrid["-"] || statOf("-").open) > 0) grids.push({ id: "-", name: t("unassigned") });
    if (!grids.length) { map.append(el("p", "empty", t("mapEmpty"))); return; }
    const cols = Math.max(1, Math.ceil(Math.sqrt(grids.length * 1.6)));
    map.style.setProperty("--cols", cols);
    for (const g of grids) {
      const s = statOf(g.id);
      // The tiles' count is the server's truth; the alert list (which may hold fewer) adds severity and escalation.
      const open = Math.max(byGrid[g.id] || 0, s.open);
      const level = s.escalated > 0 ? "escalated" : s.critical > 0 ? "critical" : open > 0 ? "warn" : "calm";
      const cell = el("div", `grid-cell lvl-${level}`);
      cell.setAttribute("data-testid", "grid-cell");
      cell.dataset.grid = g.id;
      cell.dataset.open = String(open);
      cell.dataset.escalated = String(s.escalated);
      const head = el("div", "cell-head");
      head.append(el("span", "cell-name", g.name));
      if (s.escalated) head.append(el("span", "cell-esc", `⇧ ${num(s.escalated)}`));
      cell.append(head, el("span", "cell-count", open ? num(open) : "✓"));
      const detail = [];
      if (open) detail.push(t("mapOpen", { n: open }));
      if (s.escalated) detail.push(t("mapEscalatedN", { n: s.escalated }));
      cell.append(el("span", "cell-detail", detail.join(" · ")));
      cell.title = `${g.name} (${g.id})`;
      map.append(cell);
    }
  }

  // ---------------------------------------------------------------- ECharts
  const chartInstances = {};
  const COLORS = {
    text: "#eef3fb", muted: "#a8b7cd", dim: "#7d8ca4", line: "#1f2d46", accent: "#3fd0ff",
    ok: "#34e39a", warn: "#ffb020", bad: "#ff4d5e", expected: "#a8b7cd",
    lots: ["#3fd0ff", "#34e39a", "#ffb020", "#d58bff", "#ff7a59", "#5aa9ff", "#f4e04d", "#7cf0d6"],
  };

  function rem() { return parseFloat(getComputedStyle(document.documentElement).fontSize) || 16; }

  function chart(id) {
    if (!window.echarts) return null;
    const host = $(id);
    let c = chartInstances[id];
    if (c && c.getDom() !== host) { c.dispose(); c = null; }
    if (!c) chartInstances[id] = c = echarts.init(host, null, { renderer: "canvas" });
    return c;
  }

  function baseOption() {
    const r = rem();
    const axisText = { color: COLORS.muted, fontSize: Math.round(0.95 * r), fontFamily: getComputedStyle(document.body).fontFamily };
    return {
      r, axisText,
      option: {
        backgroundColor: "transparent",
        animationDuration: 400,
        textStyle: { fontFamily: axisText.fontFamily, color: COLORS.text },
        tooltip: { trigger: "axis", textStyle: { fontSize: Math.round(1 * r) }, backgroundColor: "#0d1524", borderColor: COLORS.line },
      },
    };
  }

  function showChartMessage(id, message) {
    const host = $(id);
    if (chartInstances[id]) { chartInstances[id].dispose(); delete chartInstances[id]; }
    host.replaceChildren(el("p", "chart-message", message));
  }

  function renderCharts() {
    if (!window.echarts) {
      showChartMessage("chart-gate-flow", t("chartsUnavailable"));
      showChartMessage("chart-parking", t("chartsUnavailable"));
      return;
    }
    renderGateFlow();
    renderParking();
    renderChartAges();
  }

  function renderGateFlow() {
    const data = state.charts && state.charts.gate_flow;
    if (!data) { showChartMessage("chart-gate-flow", state.community ? "…" : t("noData")); return; }
    const host = $("chart-gate-flow");
    if (host.querySelector(".chart-message")) host.replaceChildren();
    const c = chart("chart-gate-flow");
    const { r, axisText, option } = baseOption();
    const pts = data.points || [];
    c.setOption({
      ...option,
      grid: { left: 3.6 * r, right: 1 * r, top: 1.2 * r, bottom: 2.2 * r },
      xAxis: {
        type: "category", data: pts.map((p) => hourLabel(p.t)),
        axisLabel: { ...axisText, interval: 3, margin: 0.7 * r }, axisLine: { lineStyle: { color: COLORS.line } }, axisTick: { show: false },
      },
      yAxis: {
        type: "value", minInterval: 1, axisLabel: axisText,
        splitLine: { lineStyle: { color: COLORS.line } },
      },
      tooltip: {
        ...option.tooltip,
        valueFormatter: (v) => (v == null || v === "-" ? t("noData") : `${num(v)} ${t("uTimes")}`),
      },
      series: [{
        name: t("passes"), type: "bar", barWidth: "62%",
        data: pts.map((p) => (p.passes == null ? "-" : p.passes)),
        itemStyle: { color: new echarts.graphic.LinearGradient(0, 0, 0, 1, [{ offset: 0, color: "#3fd0ff" }, { offset: 1, color: "#1b5dff" }]), borderRadius: [0.2 * r, 0.2 * r, 0, 0] },
      }],
    }, true);
  }

  function renderParking() {
    const lots = state.charts && state.charts.parking;
    if (!lots) { showChartMessage("chart-parking", state.community ? "…" : t("noData")); return; }
    if (!lots.length) { showChartMessage("chart-parking", t("noLots")); return; }
    const host = $("chart-parking");
    if (host.querySelector(".chart-message")) host.replaceChildren();
    const c = chart("chart-parking");
    const { r, axisText, option } = baseOption();
    const hours = (lots[0].points || []).map((p) => hourLabel(p.t));
    c.setOption({
      ...option,
      color: COLORS.lots,
      legend: { top: 0, right: 0, textStyle: { color: COLORS.muted, fontSize: Math.round(0.95 * r) }, itemWidth: 1.4 * r, itemHeight: 0.6 * r },
      grid: { left: 3.6 * r, right: 1 * r, top: 2.2 * r, bottom: 2.2 * r },
      xAxis: {
        type: "category", data: hours, boundaryGap: false,
        axisLabel: { ...axisText, interval: 3, margin: 0.7 * r }, axisLine: { lineStyle: { color: COLORS.line } }, axisTick: { show: false },
      },
      yAxis: {
        type: "value", min: 0, max: 100, interval: 25, axisLabel: { ...axisText, formatter: "{value}%" },
        splitLine: { lineStyle: { color: COLORS.line } },
      },
      tooltip: { ...option.tooltip, valueFormatter: (v) => (v == null || v === "-" ? t("noData") : `${Number(v).toFixed(0)}%`) },
      series: lots.map((lot, i) => ({
        // Symbols on: an hour between two gaps (a lot that just came back) is a dot, not nothing.
        name: lot.lot, type: "line", showSymbol: true, symbolSize: Math.max(4, 0.35 * r), connectNulls: false,
        lineStyle: { width: Math.max(2, 0.22 * r) },
        data: (lot.points || []).map((p) => (p.occupancy == null ? "-" : Math.round(p.occupancy * 1000) / 10)),
        markLine: i === 0 ? {
          silent: true, symbol: "none",
          lineStyle: { color: COLORS.bad, type: "dashed", width: Math.max(1, 0.12 * r) },
          label: { color: COLORS.bad, fontSize: Math.round(0.9 * r), formatter: t("nearFull"), position: "insideEndTop" },
          data: [{ yAxis: 90 }],
        } : undefined,
      })),
    }, true);
  }

  function renderChartAges() {
    const charts = state.charts;
    const flow = charts && charts.gate_flow;
    setChartAge("chart-age-gate-flow", "gate-flow", flow ? flow.as_of : null, flow ? flow.period_s : FALLBACK_PERIOD_S, !!charts);
    const lots = (charts && charts.parking) || [];
    const newest = lots.map((l) => l.as_of).filter(Boolean).sort().pop() || null;
    setChartAge("chart-age-parking", "parking", newest, lots.length ? lots[0].period_s : FALLBACK_PERIOD_S, !!charts);
  }

  function setChartAge(id, panel, asOf, period, loaded) {
    const footer = $(id);
    const box = document.querySelector(`[data-panel="${panel}"]`);
    const age = ageOf(asOf);
    const cls = loaded ? staleClass(age, period) : "nodata";
    box.classList.remove("fresh", "stale-warn", "stale-bad", "nodata");
    box.classList.add(cls);
    box.dataset.stale = String(cls !== "fresh");
    footer.textContent = loaded ? ageLine(age, cls) : t("ageNone");
  }

  // Evidence: expected against observed per hour, one small chart per metric (up to three), stacked.
  function renderEvidence(a) {
    const host = $("evidence-chart");
    const points = (a && a.evidence && a.evidence.points) || [];
    if (!points.length) { showChartMessage("evidence-chart", t("noEvidence")); return; }
    if (!window.echarts) { showChartMessage("evidence-chart", t("chartsUnavailable")); return; }
    if (host.querySelector(".chart-message")) host.replaceChildren();
    const byMetric = new Map();
    for (const p of points) {
      const m = p.metric || "value";
      if (!byMetric.has(m)) byMetric.set(m, []);
      byMetric.get(m).push(p);
    }
    const c = chart("evidence-chart");
    const { r, axisText, option } = baseOption();
    const metricName = (m) => (I18N[state.lang][`m_${m}`] || I18N.zh[`m_${m}`] ? t(`m_${m}`) : m);
    const legend = { top: 0, right: 0, data: [t("expected"), t("observed")], textStyle: { color: COLORS.muted, fontSize: Math.round(0.95 * r) } };
    const xLabel = { ...axisText, hideOverlap: true, margin: 0.7 * r };

    // One figure per metric (a welfare drop's water and power over the hour): expected and observed side by side.
    if ([...byMetric.values()].every((pts) => pts.length === 1)) {
      const metrics = [...byMetric.keys()];
      const bar = (name, key, color) => ({
        name, type: "bar", barMaxWidth: 3 * r, itemStyle: { color },
        data: metrics.map((m) => byMetric.get(m)[0][key]),
        label: { show: true, position: "top", color: COLORS.text, fontSize: Math.round(r), formatter: (p) => short(p.value) },
      });
      c.setOption({
        ...option, legend,
        grid: { left: 4 * r, right: 1.2 * r, top: 2.6 * r, bottom: 2.4 * r },
        xAxis: { type: "category", data: metrics.map(metricName), axisLabel: xLabel, axisLine: { lineStyle: { color: COLORS.line } }, axisTick: { show: false } },
        yAxis: { type: "value", axisLabel: axisText, splitLine: { lineStyle: { color: COLORS.line } }, splitNumber: 3 },
        series: [bar(t("expected"), "expected", "#5b6b85"), bar(t("observed"), "observed", COLORS.accent)],
      }, true);
      c.resize();
      return;
    }

    // Hours of expected against observed: one small chart per metric (up to three), stacked.
    const metrics = [...byMetric].slice(0, 3);
    const n = metrics.length;
    const top = 2.8 * r, bottom = 2.2 * r, gap = 3.4 * r;
    const h = host.clientHeight || 300;
    const each = Math.max(2 * r, (h - top - bottom - gap * (n - 1)) / n);
    const grids = [], xAxes = [], yAxes = [], series = [], titles = [];
    metrics.forEach(([metric, pts], i) => {
      pts.sort((p, q) => (Date.parse(p.t) || 0) - (Date.parse(q.t) || 0));
      const y0 = top + i * (each + gap);
      grids.push({ left: 4 * r, right: 1.2 * r, top: y0, height: each });
      titles.push({ text: metricName(metric), top: y0 - 2.2 * r, left: 0.2 * r,
        textStyle: { color: COLORS.muted, fontSize: Math.round(0.95 * r), fontWeight: "normal" } });
      xAxes.push({
        gridIndex: i, type: "category", data: pts.map((p) => localTime(p.t)),
        axisLabel: xLabel, axisLine: { lineStyle: { color: COLORS.line } }, axisTick: { show: false },
      });
      yAxes.push({ gridIndex: i, type: "value", axisLabel: axisText, splitLine: { lineStyle: { color: COLORS.line } }, splitNumber: 3 });
      series.push({
        name: t("expected"), type: "line", xAxisIndex: i, yAxisIndex: i, showSymbol: false,
        lineStyle: { type: "dashed", color: COLORS.expected, width: Math.max(1.5, 0.15 * r) }, itemStyle: { color: COLORS.expected },
        data: pts.map((p) => p.expected),
      });
      series.push({
        name: t("observed"), type: "line", xAxisIndex: i, yAxisIndex: i, symbolSize: Math.max(4, 0.4 * r),
        lineStyle: { color: COLORS.accent, width: Math.max(2, 0.22 * r) }, itemStyle: { color: COLORS.accent },
        areaStyle: { color: "rgba(63,208,255,0.12)" },
        data: pts.map((p) => p.observed),
      });
    });
    c.setOption({ ...option, title: titles, legend, grid: grids, xAxis: xAxes, yAxis: yAxes, series }, true);
    c.resize();
  }

  const short = (v) => {
    if (v == null || isNaN(v)) return "—";
    const a = Math.abs(v);
    return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 0.1 ? v.toFixed(2) : v === 0 ? "0" : v.toPrecision(2);
  };

  function resizeCharts() {
    for (const c of Object.values(chartInstances)) c.resize();
    renderCharts();
    renderDetail();
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
      const oldest = sortedAlerts().filter((o) => o.status === "resolved").concat(sortedAlerts()).slice(0, state.alerts.size - MAX_ALERTS);
      for (const o of oldest) if (o.id !== state.selectedAlert) state.alerts.delete(o.id);
    }
  }

  // Still someone's job first (escalated on top), then newest raised first.
  function sortedAlerts() {
    const time = (a) => Date.parse(a.raised_at || a.started_at) || 0;
    const rank = (a) => (a.status === "escalated" ? 0 : a.status === "resolved" ? 2 : 1);
    return [...state.alerts.values()].sort((a, b) => rank(a) - rank(b) || time(b) - time(a) || (b.sequence || 0) - (a.sequence || 0));
  }

  function kindText(kind) {
    const s = I18N[state.lang][`kind_${kind}`];
    return s || (kind || "").replace(/_/g, " ");
  }

  function statusText(status) {
    const s = I18N[state.lang][`st_${status}`];
    return s || (status || "").replace(/_/g, " ");
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
      li.setAttribute("data-testid", "alert-item");
      li.setAttribute("data-alert-id", a.id);
      li.setAttribute("data-status", a.status || "open");
      if (a.id === state.selectedAlert) { li.classList.add("selected"); requestAnimationFrame(() => li.scrollIntoView({ block: "nearest" })); }
      if (a._fresh && Date.now() - a._fresh < 4000) li.classList.add("fresh-in");

      const top = el("div", "alert-top");
      top.append(el("span", "sev-badge", t(`sev_${a.severity}`)), el("span", "alert-kind", kindText(a.kind)),
        el("time", "alert-time", localTime(a.raised_at || a.started_at)));
      const bottom = el("div", "alert-bottom");
      const where = [gridName(a.grid)];
      if (a.household) where.push(`${t("household")} ${a.household}`);
      if (a.device) where.push(`${t("device")} ${a.device}`);
      bottom.append(el("span", "alert-where", where.join(" · ")));
      if (a.escalation && a.status !== "resolved") bottom.append(el("span", "esc-badge", t(`esc_${a.escalation}`)));
      bottom.append(el("span", `status-badge st-${a.status}`, statusText(a.status)));
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
    if (state.selectedAlert) loadActions(state.selectedAlert);
  }

  // The audit trail of helper "loop" (GET /api/alerts/{id}/actions); a server without it gets one built from the
  // alert's own lifecycle fields.
  async function loadActions(id) {
    if (state.actions.has(id)) return;
    try {
      const list = await api(`/api/alerts/${encodeURIComponent(id)}/actions`);
      state.actions.set(id, Array.isArray(list) ? list.map((x) => snakeKeys(x, false)) : null);
    } catch (e) {
      if (e instanceof HttpError && e.status === 401) return;
      state.actions.set(id, null);
    }
    if (state.selectedAlert === id) renderDetail();
  }

  function actionsFromFields(a) {
    const out = [];
    const push = (at, action, by, extra) => { if (at) out.push({ at, action, by, ...extra }); };
    push(a.received_at || a.raised_at, "raised", null);
    push(a.escalated_at, "escalated", null, { to: a.escalation });
    push(a.acknowledged_at, "acknowledged", a.acknowledged_by);
    push(a.on_the_way_at, "on_the_way", a.on_the_way_by);
    push(a.resolved_at, "resolved", a.resolved_by, { note: a.note });
    return out.sort((x, y) => (Date.parse(x.at) || 0) - (Date.parse(y.at) || 0));
  }

  function renderActions(a) {
    const ol = $("detail-actions");
    ol.replaceChildren();
    if (!a) return;
    const served = state.actions.get(a.id);
    const actions = served && served.length ? served : actionsFromFields(a);
    if (actions.length <= 1 && !served) return; // "raised" alone says nothing the header does not
    ol.append(el("li", "actions-title", t("actions")));
    for (const x of actions.slice(-5)) {
      const li = el("li", `action act-${x.action}`);
      const action = (x.action || "").split(/[:(]/)[0].trim();
      let what = I18N[state.lang][`act_${action}`] || x.action;
      const to = x.to || (x.note && action === "escalated" ? x.note : null);
      if (action === "escalated" && to) what += " " + t("actTo", { who: I18N[state.lang][`who_${to}`] || to });
      li.append(el("time", "action-time", localTime(x.at)), el("span", "action-what", what),
        el("span", "action-by", [x.by, x.role && x.by ? `(${x.role})` : null].filter(Boolean).join(" ")));
      if (x.note && action !== "escalated") li.append(el("span", "action-note", x.note));
      ol.append(li);
    }
  }

  // keepChart: only the text changed (a deadline counting down), so the evidence chart is left as drawn.
  function renderDetail(keepChart) {
    const panel = $("detail");
    const a = state.selectedAlert && state.alerts.get(state.selectedAlert);
    document.querySelector(".feed").classList.toggle("has-detail", !!a);
    if (!a) {
      panel.hidden = true;
      if (chartInstances["evidence-chart"]) { chartInstances["evidence-chart"].dispose(); delete chartInstances["evidence-chart"]; }
      return;
    }
    panel.hidden = false;
    panel.className = `detail sev-${a.severity || "info"} st-${a.status || "open"}`;
    panel.dataset.alertId = a.id;
    $("detail-title").textContent = kindText(a.kind);
    const meta = $("detail-meta");
    meta.replaceChildren();
    const add = (label, value, cls) => { if (value) meta.append(el("span", "k", label), el("span", `v ${cls || ""}`, value)); };
    add(t("grid"), gridName(a.grid));
    add(t("household"), a.household);
    add(t("device"), a.device);
    // An alert that joined another's incident names that first alert's kind and time (its id means nothing to a person).
    const lead = a.incident && a.incident !== a.id ? state.alerts.get(a.incident) : null;
    if (a.incident && a.incident !== a.id) add(t("incident"), lead ? `${kindText(lead.kind)} · ${localTime(lead.raised_at)}` : a.incident);
    add(t("startedAt"), a.started_at && localTime(a.started_at));
    add(t("raisedAt"), a.raised_at && localTime(a.raised_at));

    // The closed loop (helper "loop"'s fields, when the server sends them): status, escalation, deadline.
    const loop = $("detail-loop");
    loop.replaceChildren();
    loop.append(el("span", `status-badge st-${a.status}`, statusText(a.status)));
    if (a.escalation) loop.append(el("span", "esc-badge", t(`esc_${a.escalation}`) + (a.escalated_at ? ` · ${localTime(a.escalated_at)}` : "")));
    if (a.respond_by) {
      const left = Date.parse(a.respond_by) - Date.now();
      const waiting = a.status === "open" || a.status === "escalated";
      const deadline = el("span", `deadline ${waiting && left < 0 ? "overdue" : ""}`,
        `${t("respondBy")} ${localTime(a.respond_by)}` + (waiting && !isNaN(left)
          ? ` · ${left < 0 ? t("overdue", { d: durationText(-left / 1000) }) : t("remaining", { d: durationText(left / 1000) })}` : ""));
      deadline.dataset.respondBy = a.respond_by;
      loop.append(deadline);
    }
    const by = a.resolved_by || a.on_the_way_by || a.acknowledged_by || a.updated_by;
    if (by) loop.append(el("span", "loop-by", `${t("updatedBy")} ${by}`));
    if (a.note) loop.append(el("span", "loop-note", `${t("note")}: ${a.note}`));

    $("detail-summary").textContent = (a.evidence && a.evidence.summary) || "";
    // The actions first: the chart takes the room they leave.
    renderActions(a);
    if (keepChart !== true) renderEvidence(a);
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
    sel.disabled = state.communities.length < 2;
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
    // A deadline counts down on screen.
    const a = state.selectedAlert && state.alerts.get(state.selectedAlert);
    if (a && a.respond_by && now.getSeconds() % 5 === 0) renderDetail(true);
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
    window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(resizeCharts, 200); });

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
