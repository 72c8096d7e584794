// Breaks on the exam page: shown only when the student's accommodation allows some. A break is
// logged by the API; an absence during it is counted, not flagged. Uses exam.js's base/api.
"use strict";

const breaks = { status: null };

function renderBreaks(status) {
  breaks.status = status;
  const section = document.getElementById("breaks");
  const button = document.getElementById("break-toggle");
  const text = document.getElementById("break-status");
  if (!status || status.breaks_allowed === 0) { section.hidden = true; return; }
  section.hidden = false;
  const left = status.breaks_allowed - status.breaks_taken;
  const minutes = Math.round(status.break_max_s / 60);
  if (status.on_break) {
    text.textContent = `On a break (up to ${minutes} min). Press "End break" when you are back.`;
    button.textContent = "End break";
    button.disabled = false;
  } else {
    text.textContent = `${left} of ${status.breaks_allowed} breaks left, up to ${minutes} min each.`;
    button.textContent = "Take a break";
    button.disabled = left <= 0;
  }
}

async function loadBreaks() {
  const response = await api(`${base}/breaks`);
  if (response.ok) renderBreaks(await response.json());
}

document.getElementById("break-toggle").onclick = async () => {
  const ending = breaks.status && breaks.status.on_break;
  const response = await api(`${base}/breaks${ending ? "/end" : ""}`, { method: "POST" });
  const body = await response.json();
  if (response.ok) { renderBreaks(body); return; }
  document.getElementById("break-status").textContent = `Break not recorded: ${body.detail}`;
  loadBreaks();
};
loadBreaks().catch(() => {});
