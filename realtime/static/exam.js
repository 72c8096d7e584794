// Exam client: webcam + microphone + screen capture, 1 fps frames, recording (published to the
// media gateway, which records it; or, when the exam's policy says "client", MediaRecorder
// segments with the microphone track uploaded by the page), integrity events, proctor messages.
// The page is opened as /exam#session=<id>&token=<student token>.
"use strict";

const params = new URLSearchParams(location.hash.slice(1));
const sessionId = params.get("session");
const token = params.get("token");
const base = `/sessions/${sessionId}`;
const auth = { Authorization: `Bearer ${token}` };
const state = { ended: false, framesSent: 0, segmentsStored: 0, chains: 0, t0: Date.now(), pending: [] };

function setStatus(text, kind) {
  const el = document.getElementById("status");
  el.textContent = text;
  el.dataset.state = kind;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...auth, ...(options.headers || {}) } });
  // 409: the session ended; 401: its tokens were revoked when it ended (or the link expired).
  if (response.status === 409 || response.status === 401) { showEnded("This session is closed."); }
  return response;
}

function showEnded(reason) {
  if (state.ended) return;
  state.ended = true;
  document.getElementById("ended-reason").textContent = reason;
  document.getElementById("ended").hidden = false;
  setStatus("ended", "ended");
  for (const stream of [state.webcam, state.screen]) {
    if (stream) stream.getTracks().forEach((t) => t.stop());
  }
  if (state.events) state.events.close();
  if (state.link) state.link.close();  // the gateway closes the session's last recording
}

function showMessage(text) {
  document.getElementById("overlay-text").textContent = text;
  document.getElementById("overlay").hidden = false;
}

function grab(video, width, quality) {
  const canvas = document.createElement("canvas");
  const scale = width / (video.videoWidth || width);
  canvas.width = width;
  canvas.height = Math.round((video.videoHeight || width * 0.75) * scale);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
}

async function sendFrame(track, video, width) {
  if (state.ended || !video.videoWidth) return;
  const capturedAt = Date.now();
  const blob = await grab(video, width, track === "webcam" ? 0.8 : 0.6);
  try {
    const response = await api(`${base}/frames/${track}`, {
      method: "POST", body: blob,
      headers: { "Content-Type": "image/jpeg", "X-Captured-At-Ms": String(capturedAt) },
    });
    if (response.ok && track === "webcam") {
      document.getElementById("frames-sent").textContent = ++state.framesSent;
      setStatus("connected", "ok");
    } else if (!response.ok && response.status >= 500) {
      setStatus("server busy, retrying", "warn");
    }
  } catch (err) {
    setStatus("offline, reconnecting…", "offline");  // the server flags the gap for auditors
  }
}

// The seed's floor: at least 1280x720 at 15 fps. Asked as "ideal", not "min", so a weaker
// camera still runs the exam; ingest measures what arrived and flags a session below it.
const RECORDING_FLOOR = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 15 } };

// Each segment is a complete WebM (the recorder restarts), so the batch path can ingest it.
function recordSegments(stream, seconds) {
  const run = () => {
    if (state.ended) return;
    const startMs = Date.now() - state.t0;
    const recorder = new MediaRecorder(stream, { mimeType: "video/webm" });
    const parts = [];
    recorder.ondataavailable = (e) => e.data.size && parts.push(e.data);
    recorder.onstop = () => {
      const segment = { startMs, endMs: Date.now() - state.t0, blob: new Blob(parts, { type: "video/webm" }) };
      state.pending.push(segment);
      state.flushed = flushSegments();
      if (state.stopped) state.stopped();
      run();
    };
    recorder.start();
    setTimeout(() => recorder.state !== "inactive" && recorder.stop(), seconds * 1000);
    state.recorder = recorder;
  };
  run();
}

async function flushSegments() {
  while (state.pending.length) {
    const segment = state.pending[0];
    try {
      const url = `${base}/chunks/webcam?chunk_start_ms=${segment.startMs}&chunk_end_ms=${segment.endMs}`;
      const response = await api(url, { method: "POST", body: segment.blob, headers: { "Content-Type": "video/webm" } });
      if (!response.ok && response.status >= 500) return;  // keep it; retried with the next one
      state.pending.shift();
      if (response.ok) document.getElementById("segments-stored").textContent = ++state.segmentsStored;
    } catch (err) {
      return;  // offline: the segment stays queued until the network is back
    }
  }
}

// Integrity events: facts about the page, never content (a paste says that, not what). Spans
// (hidden, unfocused, out of fullscreen) send start and end, and "still" every few seconds so
// the server can flag a student who never comes back; the window's size goes out when it
// changes and with each heartbeat (the exam policy's floor is applied on the server).
const integrity = { queue: [], spans: new Set(), sending: false, sent: 0, wasFullscreen: false };
const HEARTBEAT_MS = 3000;

function report(kind, phase = "instant", extra = {}) {
  if (state.ended || !state.started) return;
  integrity.queue.push({ kind, phase, occurred_at_ms: Date.now(), ...extra });
  sendIntegrity();
}

function reportSpan(kind, on) {
  if (on === integrity.spans.has(kind)) return;
  if (on) integrity.spans.add(kind); else integrity.spans.delete(kind);
  report(kind, on ? "start" : "end");
}

function reportSize() {
  report("window_size", "instant", { width: window.innerWidth, height: window.innerHeight });
}

async function sendIntegrity() {
  if (integrity.sending || !integrity.queue.length) return;
  integrity.sending = true;
  const events = integrity.queue.splice(0, 50);
  let retry = false;
  try {
    const response = await api(`${base}/integrity`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ events }),
    });
    retry = !response.ok && (response.status >= 500 || response.status === 429);
    if (response.ok) {
      integrity.sent += events.length;
      document.getElementById("integrity-sent").textContent = integrity.sent;
    }
  } catch (err) {
    retry = true;  // offline: keep them, in order, for the next try
  }
  if (retry) integrity.queue.unshift(...events);
  integrity.sending = false;
  if (integrity.queue.length) setTimeout(sendIntegrity, retry ? 2000 : 0);
}

function watchIntegrity() {
  document.addEventListener("visibilitychange", () => reportSpan("page_hidden", document.visibilityState === "hidden"));
  window.addEventListener("blur", () => reportSpan("window_blurred", true));
  window.addEventListener("focus", () => reportSpan("window_blurred", false));
  document.addEventListener("fullscreenchange", () => {
    const inside = document.fullscreenElement !== null;
    integrity.wasFullscreen = integrity.wasFullscreen || inside;
    if (integrity.wasFullscreen) reportSpan("fullscreen_exited", !inside);
  });
  for (const kind of ["copy", "cut", "paste"]) document.addEventListener(kind, () => report(kind));
  // The key itself is not delivered on every system; when it is, it comes as a keyup.
  document.addEventListener("keyup", (e) => { if (e.key === "PrintScreen") report("print_screen"); });
  if ("isExtended" in screen) {
    const check = () => { if (screen.isExtended) report("second_display"); };
    screen.addEventListener("change", check);
    check();
  }
  let resized = null;
  window.addEventListener("resize", () => { clearTimeout(resized); resized = setTimeout(reportSize, 1000); });
  reportSize();
  if (document.visibilityState === "hidden") reportSpan("page_hidden", true);
  if (!document.hasFocus()) reportSpan("window_blurred", true);
  setInterval(() => {
    for (const kind of integrity.spans) report(kind, "still");
    reportSize();
  }, HEARTBEAT_MS);
}

// An EventSource cannot send the token header, and a token in a URL leaks into logs: the
// stream opens with a single-use ticket, and a dropped stream asks for a new one.
async function streamTicket(path) {
  const response = await api("/auth/stream-tickets", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ path }),
  });
  return response.ok ? (await response.json()).ticket : null;
}

async function followEvents() {
  if (state.ended) return;
  const ticket = await streamTicket(`${base}/events`);
  if (!ticket) { setTimeout(followEvents, 5000); return; }
  const events = new EventSource(`${base}/events?ticket=${encodeURIComponent(ticket)}`);
  state.events = events;
  events.onerror = () => {
    events.close();  // a ticket opens one stream once: reconnect with a new one
    if (!state.ended) setTimeout(followEvents, 2000);
  };
  events.addEventListener("status", (e) => {
    const status = JSON.parse(e.data).status;
    if (status === "ended" || status === "terminated") showEnded("This session was closed.");
  });
  events.addEventListener("action", (e) => {
    const action = JSON.parse(e.data);
    if (action.action_type === "message") showMessage(action.message);
    if (action.action_type === "end_session") showEnded(action.message || "Your proctor ended the session.");
  });
  // The status event on reconnect tells the page if the session ended meanwhile.
}

// Publish webcam, screen and microphone to the gateway; on a lost gateway, publish again until
// it is back. Each publish is a new publisher at the gateway: a new segment chain begins.
// The order is the m-lines' order, which the gateway's recorder and sampler rely on: webcam
// (index 0), screen (1), microphone (2, recorded into the webcam's chunks). Without a shared
// screen the microphone would take index 1, the screen's: it is then not published, and that
// recording has no sound (the page's own recording, `recording: client`, keeps it).
async function publishToServer() {
  const screen = state.screen ? state.screen.getVideoTracks() : [];
  const tracks = [
    ...state.webcam.getVideoTracks(),
    ...screen,
    ...(screen.length ? state.webcam.getAudioTracks() : []),
  ];
  while (!state.ended) {
    try {
      const response = await api(`${base}/gateway`, { method: "POST" });
      if (response.status === 409 || response.status === 401) return;
      if (response.ok) {
        const access = await response.json();
        const chains = document.getElementById("gateway-chains");
        const link = await publishToGateway(access, "student", tracks);
        state.link = link;
        const published = new Promise((resolve) => { link.onLost = resolve; });
        const onState = () => {
          const pcState = link.pc.connectionState;
          if (pcState === "connected") {
            setStatus("recording (server)", "ok");
            chains.dataset.connectedAt = Date.now();  // when this chain began, for auditors
          }
          if (pcState === "failed") link.lost(new Error("media connection failed"));
        };
        link.pc.addEventListener("connectionstatechange", onState);
        onState();  // it may have connected already, before the listener was added
        chains.textContent = ++state.chains;
        await published;
        link.close();
        setStatus("reconnecting to the recording server…", "warn");
      }
    } catch (err) {
      setStatus(`reconnecting to the recording server… (${err.message})`, "warn");
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function start() {
  if (!sessionId || !token) { setStatus("missing session or token in the link", "error"); return; }
  const started = await api(`${base}/start`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ started_at_ms: state.t0 }),
  });
  if (!started.ok) { setStatus(`cannot start: ${(await started.json()).detail}`, "error"); return; }
  const info = await started.json();
  state.t0 = Date.parse(info.started_at) || state.t0;  // a reconnecting client keeps its origin
  state.started = true;
  followEvents();
  watchIntegrity();
  const webcamVideo = document.getElementById("webcam");
  // The microphone goes into the recording (the batch path listens for sustained speech); a
  // device without one still runs the exam on video alone.
  try {
    state.webcam = await navigator.mediaDevices.getUserMedia({ video: RECORDING_FLOOR, audio: true });
  } catch (err) {
    state.webcam = await navigator.mediaDevices.getUserMedia({ video: RECORDING_FLOOR, audio: false });
    document.getElementById("counters").append(" (no microphone)");
  }
  webcamVideo.srcObject = state.webcam;
  // Server recording: the gateway samples webcam and screen as it received them; the page
  // sends no frames of its own.
  if (info.recording === "client") {
    setInterval(() => sendFrame("webcam", webcamVideo, 640), 1000);
    recordSegments(state.webcam, 10);
  }
  try {
    state.screen = await navigator.mediaDevices.getDisplayMedia({ video: RECORDING_FLOOR });
    const screenVideo = document.createElement("video");
    screenVideo.muted = true;
    screenVideo.srcObject = state.screen;
    await screenVideo.play();
    if (info.recording === "client") setInterval(() => sendFrame("screen", screenVideo, 1280), 10000);
  } catch (err) {
    document.getElementById("counters").append(" (screen sharing unavailable)");
  }
  if (info.recording !== "client") publishToServer();
}

document.getElementById("overlay-ok").onclick = () => { document.getElementById("overlay").hidden = true; };
document.getElementById("hand-in").onclick = async () => {
  // The last segment is uploaded before the end: an ended session accepts no more recording.
  if (state.recorder && state.recorder.state !== "inactive") {
    const stopped = new Promise((resolve) => { state.stopped = resolve; });
    state.ended = true;  // no new recorder starts
    state.recorder.stop();
    await stopped;
    await state.flushed;
    state.ended = false;
  }
  if (state.link) {
    state.ended = true;
    state.link.close();
    document.getElementById("gateway-chains").dataset.closedAt = Date.now();
  }
  await api(`${base}/end`, { method: "POST" });
  showEnded("You handed in. Thank you.");
};
window.addEventListener("online", flushSegments);
start().catch((err) => setStatus(`error: ${err.message}`, "error"));
