// Check-in before recording: system check, privacy notice and consent, identity with
// liveness. Each step can be retried; after the last allowed failure the student goes on and
// a person reviews instead. Opened as /checkin#session=<id>&token=<student token>; hands
// over to /exam with the same fragment.
"use strict";

const params = new URLSearchParams(location.hash.slice(1));
const sessionId = params.get("session");
const base = `/sessions/${sessionId}`;
const auth = { Authorization: `Bearer ${params.get("token")}` };
const state = { info: null, attempts: {}, humanReview: [], camera: null, idPhoto: null };

function $(id) { return document.getElementById(id); }

async function api(path, options = {}) {
  return fetch(path, { ...options, headers: { ...auth, ...(options.headers || {}) } });
}

async function detail(response) {
  try { return (await response.json()).detail || response.statusText; } catch (err) { return response.statusText; }
}

// Report a step; answers the recorded outcome (human_review once the last attempt failed).
async function report(step, outcome, detail) {
  const attempt = outcome === "failed" || outcome === "passed" ? (state.attempts[step] || 1) : 1;
  const response = await api(`${base}/checkin/steps`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ step, outcome, attempt, detail: detail || null }),
  });
  const recorded = response.ok ? (await response.json()).outcome : outcome;
  if (recorded === "human_review") state.humanReview.push(step);
  return recorded;
}

function mark(id, ok, text) {
  $(id).textContent = text;
  $(id).dataset.state = ok ? "ok" : "failed";
}

function show(step) {
  for (const id of ["step-system", "step-consent", "step-identity", "step-done"]) $(id).hidden = id !== step;
  const heading = $(step).querySelector("h2");
  heading.tabIndex = -1;
  heading.focus();  // keyboard and screen-reader users land on the new step
  $("status").textContent = { "step-system": "step 1 of 3", "step-consent": "step 2 of 3",
    "step-identity": "step 3 of 3", "step-done": "ready" }[step];
}

async function checkCamera() {
  state.camera = state.camera || await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  const track = state.camera.getVideoTracks()[0];
  if (!track || track.readyState !== "live") throw new Error("no live camera");
  return `${track.getSettings().width || "?"}x${track.getSettings().height || "?"}`;
}

async function checkMicrophone() {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
  const track = stream.getAudioTracks()[0];
  const live = track && track.readyState === "live";
  stream.getTracks().forEach((t) => t.stop());
  if (!live) throw new Error("no live microphone");
  return track.label || "working";
}

async function checkScreen() {
  const stream = await navigator.mediaDevices.getDisplayMedia({ video: { displaySurface: "monitor" } });
  const surface = stream.getVideoTracks()[0].getSettings().displaySurface;
  stream.getTracks().forEach((t) => t.stop());
  if (surface !== "monitor") throw new Error(`you shared a ${surface || "window"}, not your entire screen`);
  return "entire screen";
}

async function checkBandwidth() {
  const probe = new Uint8Array(state.info.probe_bytes);
  const started = performance.now();
  const response = await api(`${base}/checkin/bandwidth`, { method: "POST", body: probe,
    headers: { "Content-Type": "application/octet-stream" } });
  if (!response.ok) throw new Error(await detail(response));
  const kbps = Math.round((probe.length * 8) / ((performance.now() - started) / 1000) / 1000);
  if (kbps < state.info.min_upload_kbps) throw new Error(`${kbps} kbit/s, below the ${state.info.min_upload_kbps} needed`);
  return `${kbps} kbit/s`;
}

const CHECKS = [
  ["camera", "check-camera", checkCamera],
  ["microphone", "check-microphone", checkMicrophone],
  ["screen", "check-screen", checkScreen],
  ["bandwidth", "check-bandwidth", checkBandwidth],
];

async function runSystemCheck() {
  $("system-run").disabled = true;
  $("system-error").textContent = "";
  const failures = [];
  for (const [step, id, check] of CHECKS) {
    if ($(id).dataset.state === "ok") continue;
    state.attempts[step] = (state.attempts[step] || 0) + 1;
    try {
      const text = await check();
      mark(id, true, `ok (${text})`);
      await report(step, "passed", text);
    } catch (err) {
      const outcome = await report(step, "failed", err.message);
      mark(id, false, outcome === "human_review" ? `failed: ${err.message}; a proctor will review this` : `failed: ${err.message}`);
      if (outcome !== "human_review") failures.push(`${step}: ${err.message}`);
    }
  }
  $("system-run").disabled = false;
  if (failures.length) {
    $("system-error").textContent = `Please fix and retry: ${failures.join("; ")}.`;
    $("system-run").textContent = "Retry the system check";
  } else {
    $("system-run").hidden = true;
    $("system-continue").hidden = false;
    $("system-continue").focus();
  }
}

async function consent(accepted) {
  if (accepted && !$("consent-read").checked) {
    $("consent-error").textContent = "Please confirm you have read the privacy notice.";
    $("consent-read").focus();
    return;
  }
  const outcome = await report("consent", accepted ? "accepted" : "declined", state.info.notice_version);
  if (!accepted) {
    $("consent-error").textContent = "You declined: you cannot take this exam online. Contact your institution for another arrangement.";
    return;
  }
  if (outcome !== "accepted") { $("consent-error").textContent = "Your consent could not be recorded; please try again."; return; }
  show("step-identity");
  $("preview").srcObject = state.camera;
}

function grab(width = 640, quality = 0.9) {
  const video = $("preview");
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = Math.round((video.videoHeight || 480) * (width / (video.videoWidth || 640)));
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function captureId() {
  state.idPhoto = await grab(1280, 0.92);
  $("id-state").textContent = "ID photo taken.";
  $("selfie-capture").disabled = false;
  $("selfie-capture").focus();
}

// The liveness challenge: a selfie, then a burst while the student blinks and turns.
async function captureSelfie() {
  $("selfie-capture").disabled = true;
  $("identity-error").textContent = "";
  const selfie = await grab();
  const burst = [];
  const prompts = ["Blink twice", "Turn your head to the left", "Turn your head to the right", "Look at the camera"];
  for (const prompt of prompts) {
    $("liveness-prompt").textContent = prompt;
    for (let i = 0; i < 6; i++) { burst.push(await grab(480, 0.85)); await pause(200); }
  }
  $("liveness-prompt").textContent = "Checking…";
  const form = new FormData();
  form.append("id_photo", state.idPhoto, "id.jpg");
  form.append("selfie_photo", selfie, "selfie.jpg");
  if (state.info.liveness_required) burst.forEach((frame, i) => form.append("burst", frame, `b${i}.jpg`));
  state.attempts.identity = (state.attempts.identity || 0) + 1;
  const response = await api(`${base}/verify-identity`, { method: "POST", body: form });
  $("liveness-prompt").textContent = "";
  const result = response.ok ? await response.json() : null;
  if (result && result.verified) { await report("identity", "passed", result.record_id); finish(); return; }
  const why = result ? result.reasons.join("; ") : await detail(response);
  const outcome = await report("identity", "failed", why);
  if (outcome === "human_review") { finish(); return; }
  $("identity-error").textContent = `Identity not confirmed: ${why}. Retake the photos and try again (${state.attempts.identity} of ${state.info.max_attempts}).`;
  $("selfie-capture").disabled = false;
  $("id-capture").focus();
}

function finish() {
  if (state.camera) state.camera.getTracks().forEach((t) => t.stop());
  $("done-text").textContent = state.humanReview.length
    ? `Check-in complete. A proctor will review: ${state.humanReview.join(", ")}.`
    : "Check-in complete.";
  $("start-exam").href = `/exam${location.hash}`;
  show("step-done");
}

async function start() {
  if (!sessionId || !params.get("token")) { $("system-error").textContent = "This link has no session or token."; return; }
  const response = await api(`${base}/checkin`);
  if (!response.ok) { $("system-error").textContent = `Cannot check in: ${await detail(response)}`; return; }
  state.info = await response.json();
  $("tier").textContent = { none: "none", ai: "automated (AI)", ai_human: "automated (AI) and human proctors" }[state.info.tier] || state.info.tier;
  $("notice").textContent = state.info.notice;
  $("expected-name").textContent = state.info.expected_name || "(the name your institution has on record)";
}

$("system-run").onclick = runSystemCheck;
$("system-continue").onclick = () => show("step-consent");
$("consent-accept").onclick = () => consent(true);
$("consent-decline").onclick = () => consent(false);
$("id-capture").onclick = captureId;
$("selfie-capture").onclick = captureSelfie;
start().catch((err) => { $("system-error").textContent = `error: ${err.message}`; });
