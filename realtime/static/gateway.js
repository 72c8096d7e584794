// The exam page's link to the media gateway (Janus VideoRoom over Janus's HTTP API).
// Plain fetch + RTCPeerConnection: one publisher and one subscriber need none of janus.js.
// The gateway records what it receives; the browser never holds the evidence it sends.
"use strict";

class GatewayLink {
  constructor(url) {
    this.url = url;
    this.session = null;
    this.handle = null;
    this.waiting = new Map(); // transaction -> resolve, for replies that come as events
    this.closed = false;
    this.onLost = null; // called once when the gateway stops answering
  }

  async post(path, body, transaction = Math.random().toString(36).slice(2)) {
    const response = await fetch(this.url + path, {
      method: "POST", body: JSON.stringify({ transaction, ...body }),
    });
    const reply = await response.json();
    if (reply.janus === "error") throw new Error(`gateway: ${reply.error.reason}`);
    return { reply, transaction };
  }

  async open() {
    this.session = (await this.post("", { janus: "create" })).reply.data.id;
    const attach = { janus: "attach", plugin: "janus.plugin.videoroom" };
    this.handle = (await this.post(`/${this.session}`, attach)).reply.data.id;
    this.poll();
  }

  // Long poll: Janus answers each GET with the next events (or a keepalive after 30 s).
  async poll() {
    while (!this.closed) {
      let events;
      try {
        const response = await fetch(`${this.url}/${this.session}?maxev=5&rid=${Date.now()}`);
        events = await response.json();
      } catch (error) {
        this.lost(error);
        return;
      }
      for (const event of [].concat(events)) {
        if (event.janus === "error" && event.error && event.error.code === 458) {
          this.lost(new Error("gateway forgot the session")); // restarted
          return;
        }
        const resolve = this.waiting.get(event.transaction);
        if (resolve && event.janus === "event") {
          this.waiting.delete(event.transaction);
          resolve(event);
        }
        if (event.janus === "hangup" || event.janus === "detached") this.lost(new Error(event.janus));
      }
    }
  }

  lost(error) {
    if (this.closed) return;
    this.closed = true;
    for (const resolve of this.waiting.values()) resolve({ plugindata: { data: { error: String(error) } } });
    if (this.onLost) this.onLost(error);
  }

  // A plugin request; its answer (and a jsep, when one is due) arrives as an event.
  async message(body, jsep) {
    const path = `/${this.session}/${this.handle}`;
    const transaction = Math.random().toString(36).slice(2);
    // Registered before sending: the event may come back on the long poll before the ack.
    const answered = new Promise((resolve) => this.waiting.set(transaction, resolve));
    const { reply } = await this.post(path, { janus: "message", body, ...(jsep ? { jsep } : {}) }, transaction);
    if (reply.janus === "success") {
      this.waiting.delete(transaction);
      return { plugindata: reply.plugindata };
    }
    const event = await answered;
    const data = event.plugindata && event.plugindata.data;
    if (data && data.error) throw new Error(`gateway: ${data.error}`);
    return event;
  }

  close() {
    this.closed = true;
    if (this.session) fetch(`${this.url}/${this.session}`, { method: "POST", body: JSON.stringify({ janus: "destroy", transaction: "bye" }) }).catch(() => {});
  }
}

// Resolves once the PeerConnection has all its candidates (the gateway is not trickled to).
function iceGathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => pc.addEventListener("icegatheringstatechange", () => {
    if (pc.iceGatheringState === "complete") resolve();
  }));
}

// The webcam (the first track) goes with three temporal layers (L1T3): its base layer, a
// quarter of the frames, decodes alone, so the gateway's sampler decodes only that. A browser
// that cannot code layers sends the webcam plainly (the sampler then decodes every frame).
// Its bitrate is capped: left alone, Chromium sent 640x480 at ~1.6 Mbit/s over loopback, twice
// a video call's, which a student's upload, the gateway and the storage all pay for.
const WEBCAM_ENCODING = { scalabilityMode: "L1T3", maxBitrate: 800_000 };

// Under the cap Chromium would rather lower the resolution (to 480x360 at 600 kbit/s,
// measured); the detectors need the pixels (small faces), so quality goes down instead.
async function keepResolution(sender) {
  try {
    const params = sender.getParameters();
    params.degradationPreference = "maintain-resolution";
    await sender.setParameters(params);
  } catch (error) {
    console.warn("webcam resolution may drop under the bitrate cap:", error);
  }
}

function addSender(pc, track, stream, layered) {
  const init = { direction: "sendonly", streams: [stream] };
  if (layered) {
    try {
      return pc.addTransceiver(track, { ...init, sendEncodings: [WEBCAM_ENCODING] });
    } catch (error) {
      console.warn("webcam sent without temporal layers:", error);
    }
  }
  return pc.addTransceiver(track, init);
}

// Publish `tracks` into the session's room, one m-line each in this order (a MediaStream would
// not keep it: Chromium lists audio tracks first); resolves once the gateway answered.
async function publishToGateway(access, display, tracks) {
  const stream = new MediaStream(tracks);
  const { url, room, pin } = access;
  const link = new GatewayLink(url);
  await link.open();
  await link.message({ request: "join", ptype: "publisher", room, pin, display });
  const pc = new RTCPeerConnection({ iceServers: [] });
  const webcamFirst = tracks[0]?.kind === "video";
  const transceivers = tracks.map((track, index) => addSender(pc, track, stream, webcamFirst && index === 0));
  const webcamSender = webcamFirst ? transceivers[0].sender : null;
  await pc.setLocalDescription(await pc.createOffer());
  await iceGathered(pc);
  const answer = await link.message({ request: "publish" }, pc.localDescription.toJSON());
  await pc.setRemoteDescription(answer.jsep);
  if (webcamSender) await keepResolution(webcamSender);
  link.pc = pc;
  const close = link.close.bind(link);
  link.close = () => { pc.close(); close(); };
  return link;
}

// The publisher's m-line of its screen (see publishToServer: webcam 0, screen 1, microphone 2).
const SCREEN_FEED_MID = "1";

// Subscribe to the publisher in `room` (the proctor page's live view); returns its webcam
// (with the microphone) and its screen as two streams: one video element shows one track.
async function watchFromGateway(access) {
  const { url, room, pin } = access;
  const link = new GatewayLink(url);
  await link.open();
  const list = await link.message({ request: "listparticipants", room });
  const publisher = list.plugindata.data.participants.find((p) => p.publisher);
  if (!publisher) throw new Error("nobody is publishing in this session");
  const joined = await link.message({ request: "join", ptype: "subscriber", room, pin, feed: publisher.id });
  // Which of the publisher's m-lines each of ours carries (Janus numbers its own).
  const feedMid = new Map((joined.plugindata.data.streams || []).map((s) => [s.mid, s.feed_mid]));
  const pc = new RTCPeerConnection({ iceServers: [] });
  const stream = new MediaStream();
  const screen = new MediaStream();
  pc.addEventListener("track", (event) => {
    const fromScreen = feedMid.get(event.transceiver.mid) === SCREEN_FEED_MID;
    (fromScreen ? screen : stream).addTrack(event.track);
  });
  await pc.setRemoteDescription(joined.jsep);
  await pc.setLocalDescription(await pc.createAnswer());
  await iceGathered(pc);
  await link.message({ request: "start", room }, pc.localDescription.toJSON());
  link.pc = pc;
  const close = link.close.bind(link);
  link.close = () => { pc.close(); close(); };
  return { link, stream, screen };
}
