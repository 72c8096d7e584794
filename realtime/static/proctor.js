// Proctor page: live thumbnails, sessions sorted by severity, incident timeline, chat, end.
// The page is opened as /proctor#token=<proctor token>.
"use strict";

const token = new URLSearchParams(location.hash.slice(1)).get("token");
const auth = { Authorization: `Bearer ${token}` };
let rank = {};  // severity -> rank, from GET /vocabulary: the server owns the one ordering
const state = { sessions: [], selected: null, live: null, watching: null };

function setStatus(text, kind) {
  const el = document.getElementById("status");
  el.textContent = text;
  el.dataset.state = kind;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...auth, ...(options.headers || {}) } });
  if (!response.ok) throw new Error((await response.json()).detail || response.statusText);
  return response.json();
}

function renderGrid() {
  const grid = document.getElementById("grid");
  grid.replaceChildren();
  // A pending identity review ranks like a high-severity incident.
  const urgency = (s) => Math.max(rank[s.max_severity] ?? -1, s.reviews.length ? rank.high : -1);
  const sorted = [...state.sessions].sort((a, b) => urgency(b) - urgency(a));
  for (const s of sorted) {
    const card = document.createElement("button");
    card.className = "card";
    card.dataset.sessionId = s.session_id;
    card.dataset.severity = s.max_severity || "none";
    card.dataset.review = s.reviews.length ? "pending" : "none";
    const img = document.createElement("img");
    img.alt = `webcam of ${s.student_id}`;
    loadThumbnail(img, s.session_id);
    const label = document.createElement("span");
    label.textContent = `${s.student_id} · ${s.exam_id}` +
      (s.max_severity ? ` · ${s.max_severity} (${s.incidents.length})` : "") +
      (s.reviews.length ? " · identity review" : "");
    card.append(img, label);
    card.onclick = () => select(s.session_id);
    grid.append(card);
  }
  if (state.selected) renderPanel();
}

// Thumbnails are fetched with the token header (never in the image URL) and shown as blobs.
async function loadThumbnail(img, sessionId) {
  try {
    const response = await fetch(`/proctoring/sessions/${sessionId}/thumbnail`, { headers: auth, cache: "no-store" });
    if (!response.ok) return;
    const url = URL.createObjectURL(await response.blob());
    img.onload = () => URL.revokeObjectURL(url);
    img.src = url;
  } catch (err) {
    img.removeAttribute("src");
  }
}

function renderPanel() {
  const s = state.sessions.find((x) => x.session_id === state.selected);
  const panel = document.getElementById("panel");
  if (!s) { panel.hidden = true; return; }
  panel.hidden = false;
  document.getElementById("panel-title").textContent = `${s.student_id} (${s.status})`;
  const timeline = document.getElementById("timeline");
  timeline.replaceChildren(...s.incidents.map((i) => {
    const li = document.createElement("li");
    li.dataset.severity = i.severity;
    li.className = "incident";
    li.textContent = `${i.incident_type} ${i.start_s.toFixed(0)}–${i.end_s.toFixed(0)} s · ${i.severity} · ${i.state}`;
    return li;
  }));
  const reviews = document.getElementById("reviews");
  reviews.replaceChildren(...s.reviews.map((r) => {
    const li = document.createElement("li");
    li.className = "review";
    li.dataset.recordId = r.record_id;
    const score = r.similarity_score == null ? "" : ` · similarity ${r.similarity_score.toFixed(2)}`;
    li.textContent = `identity check failed${score}: ${r.reasons.join("; ") || "see record"} (${r.record_id})`;
    return li;
  }));
}

function select(sessionId) {
  if (state.selected !== sessionId) stopWatching();
  state.selected = sessionId;
  renderPanel();
}

// One click: the session's live webcam (and screen) as the gateway receives them.
async function watchLive() {
  stopWatching();
  const note = document.getElementById("panel-note");
  try {
    const access = await api(`/proctoring/sessions/${state.selected}/gateway`);
    state.watching = await watchFromGateway(access);
    const video = document.getElementById("live");
    video.srcObject = state.watching.stream;
    video.hidden = false;
    const screen = document.getElementById("live-screen");
    screen.srcObject = state.watching.screen;
    screen.hidden = state.watching.screen.getVideoTracks().length === 0;  // none shared
  } catch (err) {
    note.textContent = `live video unavailable: ${err.message}`;
  }
}

function stopWatching() {
  if (state.watching) state.watching.link.close();
  state.watching = null;
  for (const id of ["live", "live-screen"]) {
    const video = document.getElementById(id);
    video.srcObject = null;
    video.hidden = true;
  }
}

async function refresh() {
  try {
    state.sessions = await api("/proctoring/sessions");
    renderGrid();
  } catch (err) {
    setStatus(`cannot list sessions: ${err.message}`, "error");
  }
}

// The live stream opens with a single-use ticket (EventSource sends no header); a dropped
// stream is reopened with a new one.
async function follow() {
  if (state.live) state.live.close();
  const severity = document.getElementById("severity").value;
  let ticket;
  try {
    ticket = (await api("/auth/stream-tickets", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ path: "/proctoring/live" }),
    })).ticket;
  } catch (err) {
    setStatus(`cannot follow: ${err.message}`, "error");
    setTimeout(follow, 5000);
    return;
  }
  const live = new EventSource(`/proctoring/live?severity=${severity}&ticket=${encodeURIComponent(ticket)}`);
  state.live = live;
  live.addEventListener("ready", () => setStatus("live", "ok"));
  live.addEventListener("incident", (e) => {
    const incident = JSON.parse(e.data);
    const s = state.sessions.find((x) => x.session_id === incident.session_id);
    if (!s) { refresh(); return; }
    s.incidents = s.incidents.filter((i) => i.incident_id !== incident.incident_id).concat([incident]);
    if ((rank[incident.severity] ?? -1) > (rank[s.max_severity] ?? -1)) s.max_severity = incident.severity;
    renderGrid();
  });
  live.addEventListener("review", (e) => {
    const review = JSON.parse(e.data);
    const s = state.sessions.find((x) => x.session_id === review.session_id);
    if (!s) { refresh(); return; }
    s.reviews = s.reviews.filter((r) => r.record_id !== review.record_id).concat([review]);
    renderGrid();
  });
  live.addEventListener("session", () => refresh());  // created, started, ended elsewhere
  live.onerror = () => {
    setStatus("reconnecting…", "offline");
    live.close();
    if (state.live === live) setTimeout(follow, 2000);
  };
}

document.getElementById("severity").onchange = follow;
document.getElementById("chat").onsubmit = async (e) => {
  e.preventDefault();
  const input = document.getElementById("chat-text");
  if (!state.selected || !input.value.trim()) return;
  await act({ type: "message", message: input.value });
  input.value = "";
};
document.getElementById("end-session").onclick = () => act({ type: "end_session" });
document.getElementById("watch-live").onclick = watchLive;

async function act(body) {
  const note = document.getElementById("panel-note");
  try {
    const action = await api(`/proctoring/sessions/${state.selected}/actions`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    note.textContent = `${action.action_type} sent at ${new Date(action.created_at).toLocaleTimeString()}`;
    await refresh();
  } catch (err) {
    note.textContent = `failed: ${err.message}`;
  }
}

async function loadVocabulary() {
  const vocabulary = await (await fetch("/vocabulary")).json();
  rank = Object.fromEntries(vocabulary.severities.map((severity, i) => [severity, i]));
}

loadVocabulary().then(() => {
  follow();
  refresh();
  setInterval(refresh, 5000);
});  // thumbnails are the latest frame, refreshed every 5 s
