"""Cheap WebRTC publishers for the media-plane bench: exam sessions that publish webcam, screen
and microphone into their gateway room the way the exam page does, from pre-encoded media.

A Chromium tab encodes its camera and screen live (0.2-0.35 of a core per page here, measured
in the bench), so eight pages starve the 2-core machine that the bench measures. These
publishers encode once, at start-up, and then only packetize, encrypt and send (aiortc, one
process, one event loop):
- webcam 640x480 at 15 fps, VP8 in three temporal layers (libvpx ``ts_layering_mode=3``, the
  0-2-1-2 pattern of Chromium's ``L1T3``), the TID written into each RTP payload descriptor as
  Chromium does, so the gateway's sampler decodes the base layer alone as it does for a browser;
- screen 1280x720 at 15 fps, VP8;
- microphone: Opus, 20 ms packets of low noise.
Keyframes come every 16 frames (~1.07 s), as Chromium sends them under the room's keyframe
request every second (``KEYFRAME_REQUEST_EVERY_S``); a pre-encoded stream cannot answer a
request at once, which is why the loop carries them.

``python -m bench.webrtc_publisher SPEC.json`` reads ``{"api": URL, "sessions": [{"session_id",
"token", "offset_s"}]}``, starts and publishes every session, prints one JSON line per session
once its media connection is up (``{"session_id", "connected_at_ms"}``), and on a line
``stop`` on stdin hands every session in (closes the connection, ``POST /end``), printing
``{"session_id", "closed_at_ms"}`` for each, then exits. ``PUBLISHER_LOG_LEVEL=DEBUG`` logs
aiortc's ICE checks and SDP (to stderr, the bench's ``publishers.log``).
"""

from __future__ import annotations

import asyncio
import fractions
import itertools
import json
import logging
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import av
import httpx
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.codecs.vpx import PACKET_MAX, Vp8Encoder, VpxPayloadDescriptor

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from proctorlake.samples import Segment, WebcamScript, render_webcam_frames  # noqa: E402
from proctorlake.samples.screen import ScreenSegment, render_screen_frames  # noqa: E402

FPS = 15
GOP = 16
"""Frames from one keyframe to the next: a multiple of the layer pattern's 4."""
LAYER_PATTERN = (0, 2, 1, 2)
"""Each frame's temporal layer (TID) by its place in the pattern, as libvpx's mode 3 codes it."""
CAMERA = WebcamScript((Segment("present", 12.0), Segment("second_person", 28.0)))
"""One person, a second from second 12 for 28 s: the same loop as the Chromium pages' camera."""
SCREEN_SECONDS = 64 / FPS
AUDIO_RATE = 48_000
AUDIO_PACKET = 960  # 20 ms


def encode_vp8(
    frames: Iterable[np.ndarray], count: int, size: tuple[int, int], bitrate: int, layered: bool
) -> list[bytes]:
    """The first ``count`` frames as VP8, a keyframe every ``GOP`` frames, cut to whole GOPs
    so that the loop starts again on a keyframe; ``layered``: three temporal layers whose base
    layer (every fourth frame) refers only to itself."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = size
    codec.pix_fmt = "yuv420p"
    codec.time_base = fractions.Fraction(1, FPS)
    codec.framerate = FPS
    codec.bit_rate = bitrate
    codec.gop_size = GOP
    options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "drop-frame": "0"}
    if layered:
        # Error-resilient: no frame carries its entropy updates to the next, so a decoder that
        # skips the upper layers keeps the right probabilities (Chromium codes layers so too).
        options["error-resilient"] = "1"
        kbit = bitrate // 1000
        options["ts-parameters"] = (
            f"ts_number_layers=3:ts_target_bitrate={kbit * 2 // 5},{kbit * 3 // 5},{kbit}"
            ":ts_rate_decimator=4,2,1:ts_periodicity=4:ts_layer_id=0,2,1,2:ts_layering_mode=3"
        )
    codec.options = options
    packets: list[bytes] = []
    for index, pixels in enumerate(itertools.islice(frames, count // GOP * GOP)):
        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        packets += [bytes(p) for p in codec.encode(frame)]
    packets += [bytes(p) for p in codec.encode(None)]
    if len(packets) % GOP:
        raise ValueError(f"{len(packets)} frames do not loop on a keyframe (GOP {GOP})")
    return packets


def encode_opus(seconds: float, seed: int = 0) -> list[bytes]:
    """Quiet room noise as 20 ms Opus packets."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = AUDIO_RATE
    codec.layout = "stereo"
    codec.format = "s16"
    codec.bit_rate = 32_000
    noise = np.random.default_rng(seed).normal(0, 60, (int(seconds * AUDIO_RATE), 2))
    samples = noise.astype(np.int16)
    packets: list[bytes] = []
    for start in range(0, len(samples) - AUDIO_PACKET + 1, AUDIO_PACKET):
        frame = av.AudioFrame.from_ndarray(
            samples[start : start + AUDIO_PACKET].reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = AUDIO_RATE
        frame.pts = start
        packets += [bytes(p) for p in codec.encode(frame)]
    return packets


@dataclass(frozen=True)
class Media:
    """The pre-encoded loops every publisher sends."""

    webcam: list[bytes]
    screen: list[bytes]
    audio: list[bytes]

    @classmethod
    def render(cls, seed: int = 5) -> Media:
        camera_frames = render_webcam_frames(CAMERA, seed=seed, fps=FPS)
        webcam = encode_vp8(
            camera_frames, round(CAMERA.duration_s * FPS), (640, 480), 800_000, layered=True
        )
        desktop = (ScreenSegment(SCREEN_SECONDS, "exam"),)
        screen_frames = render_screen_frames(desktop, seed=seed, fps=FPS)
        screen = encode_vp8(screen_frames, 64, (1280, 720), 600_000, layered=False)
        return cls(webcam, screen, encode_opus(4.0, seed))


class LoopTrack(MediaStreamTrack):
    """Pre-encoded packets sent in real time, looped; the loop starts ``offset`` packets in
    (a keyframe for video), so that sessions do not all show the second person at once."""

    def __init__(self, kind: str, packets: list[bytes], rate: int, ticks: int, offset: int):
        super().__init__()
        self.kind = kind
        self.packets = packets
        self.time_base = fractions.Fraction(1, rate)
        self.ticks = ticks  # clock ticks per packet
        self.offset = offset
        self.sent = 0
        self.started: float | None = None

    async def recv(self) -> av.Packet:
        if self.started is None:
            self.started = time.monotonic()
        due = self.started + self.sent * self.ticks * float(self.time_base)
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        packet = av.Packet(self.packets[(self.offset + self.sent) % len(self.packets)])
        packet.pts = self.sent * self.ticks
        packet.time_base = self.time_base
        self.sent += 1
        return packet


class LayeredVp8Packer(Vp8Encoder):
    """Packetizes pre-encoded L1T3 frames with their TID and TL0PICIDX in the payload
    descriptor (RFC 7741), as Chromium does; aiortc's own packer writes the picture ID alone."""

    def __init__(self) -> None:
        super().__init__()
        self.tl0picidx = 0

    def pack(self, packet: av.Packet) -> tuple[list[bytes], int]:
        tid = LAYER_PATTERN[int(packet.pts) % len(LAYER_PATTERN)]
        if tid == 0:
            self.tl0picidx = (self.tl0picidx + 1) % 256
        data = bytes(packet)
        descriptor = VpxPayloadDescriptor(
            partition_start=1,
            partition_id=0,
            picture_id=self.picture_id,
            tl0picidx=self.tl0picidx,
            tid=(tid, 0),
        )
        payloads = []
        room = PACKET_MAX - len(bytes(descriptor))
        for start in range(0, len(data), room):
            payloads.append(bytes(descriptor) + data[start : start + room])
            descriptor.partition_start = 0
        self.picture_id = (self.picture_id + 1) % (1 << 15)
        timestamp = int(packet.pts) * 90_000 // FPS
        return payloads, timestamp


def _use_packer(sender: RTCRtpSender, packer: Vp8Encoder) -> None:
    """Give ``sender`` our packer instead of the one aiortc would pick (a private attribute of
    aiortc 1.16, checked so that another version fails loudly instead of sending no layers)."""
    name = "_RTCRtpSender__encoder"
    if getattr(sender, name, "missing") is not None:
        raise RuntimeError("aiortc's RTCRtpSender changed: the layered packer cannot be set")
    setattr(sender, name, packer)


@dataclass
class JanusLink:
    """A Janus session with one VideoRoom handle, over Janus's HTTP API with a long poll."""

    url: str
    http: httpx.AsyncClient
    session: int | None = None
    handle: int | None = None
    waiting: dict[str, asyncio.Future] = field(default_factory=dict)
    poller: asyncio.Task | None = None

    async def _post(self, path: str, body: dict) -> dict:
        reply = (await self.http.post(self.url + path, json=body)).json()
        if reply.get("janus") == "error":
            raise RuntimeError(f"gateway: {reply['error']['reason']}")
        return reply

    async def open(self) -> None:
        self.session = (await self._post("", {"janus": "create", "transaction": "c"}))["data"]["id"]
        attach = {"janus": "attach", "plugin": "janus.plugin.videoroom", "transaction": "a"}
        self.handle = (await self._post(f"/{self.session}", attach))["data"]["id"]
        self.poller = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        while True:
            response = await self.http.get(
                f"{self.url}/{self.session}", params={"maxev": 5}, timeout=60
            )
            events = response.json()
            for event in [events] if isinstance(events, dict) else events:
                future = self.waiting.pop(event.get("transaction"), None)
                if future is not None and event.get("janus") == "event" and not future.done():
                    future.set_result(event)

    async def message(self, body: dict, jsep: dict | None = None) -> dict:
        """A plugin request; its answer comes as an event on the long poll."""
        transaction = f"t{time.monotonic_ns()}"
        answered = asyncio.get_running_loop().create_future()
        self.waiting[transaction] = answered
        request = {"janus": "message", "body": body, "transaction": transaction}
        if jsep:
            request["jsep"] = jsep
        reply = await self._post(f"/{self.session}/{self.handle}", request)
        if reply.get("janus") == "success":
            self.waiting.pop(transaction, None)
            return reply
        event = await asyncio.wait_for(answered, 30)
        data = event.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise RuntimeError(f"gateway: {data['error']}")
        return event

    async def candidates_complete(self) -> None:
        """Tell Janus no trickled candidate will follow; it waits for that before it gives up
        on a failing check."""
        trickle = {"janus": "trickle", "candidate": {"completed": True}, "transaction": "e"}
        await self._post(f"/{self.session}/{self.handle}", trickle)

    async def close(self) -> None:
        if self.poller:
            self.poller.cancel()
        if self.session:
            await self._post(f"/{self.session}", {"janus": "destroy", "transaction": "d"})


@dataclass
class Publisher:
    """One exam session publishing into its room, as the exam page's ``publishToServer``."""

    api: str
    session_id: str
    token: str
    offset_s: float
    media: Media
    http: httpx.AsyncClient
    pc: RTCPeerConnection | None = None
    link: JanusLink | None = None

    async def _api(self, path: str, body: dict | None = None) -> dict:
        response = await self.http.post(
            f"{self.api}/sessions/{self.session_id}{path}",
            json=body or {},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        response.raise_for_status()
        return response.json()

    async def publish(self) -> int:
        """Start the session, publish webcam, screen and microphone; returns the epoch ms at
        which the media connection came up."""
        await self._api("/start", {"started_at_ms": int(time.time() * 1000)})
        access = await self._api("/gateway")
        self.link = JanusLink(access["url"], self.http)
        await self.link.open()
        join = {"request": "join", "ptype": "publisher", "room": access["room"]}
        await self.link.message({**join, "pin": access["pin"], "display": "student"})
        self.pc = RTCPeerConnection()
        connected = asyncio.get_running_loop().create_future()

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            if self.pc.connectionState == "connected" and not connected.done():
                connected.set_result(int(time.time() * 1000))

        gop_offset = int(self.offset_s * FPS) // GOP * GOP
        webcam = self.pc.addTransceiver(
            LoopTrack("video", self.media.webcam, FPS, 1, gop_offset), direction="sendonly"
        )
        screen = self.pc.addTransceiver(
            LoopTrack("video", self.media.screen, FPS, 1, 0), direction="sendonly"
        )
        self.pc.addTransceiver(
            LoopTrack("audio", self.media.audio, AUDIO_RATE, AUDIO_PACKET, 0),
            direction="sendonly",
        )
        vp8 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.name == "VP8"]
        for transceiver in (webcam, screen):
            transceiver.setCodecPreferences(vp8)
        _use_packer(webcam.sender, LayeredVp8Packer())
        await self.pc.setLocalDescription(await self.pc.createOffer())  # gathers candidates
        offer = {"type": self.pc.localDescription.type, "sdp": self.pc.localDescription.sdp}
        answer = (await self.link.message({"request": "publish"}, offer))["jsep"]
        await self.link.candidates_complete()  # all of them were in the offer
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        return await asyncio.wait_for(connected, 60)

    async def hand_in(self) -> int:
        """Close the media connection and end the session, as the hand-in button does."""
        if self.pc:
            await self.pc.close()
        if self.link:
            await self.link.close()
        closed = int(time.time() * 1000)
        await self._api("/end")
        return closed


async def _serve(spec: dict) -> None:
    media = Media.render()
    limits = httpx.Limits(max_connections=4 * len(spec["sessions"]) + 8)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        publishers = [
            Publisher(spec["api"], s["session_id"], s["token"], s["offset_s"], media, http)
            for s in spec["sessions"]
        ]
        for publisher in publishers:  # one after another, as students arrive
            connected = await publisher.publish()
            print(json.dumps({"session_id": publisher.session_id, "connected_at_ms": connected}))
            sys.stdout.flush()
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for publisher in publishers:
            closed = await publisher.hand_in()
            print(json.dumps({"session_id": publisher.session_id, "closed_at_ms": closed}))
            sys.stdout.flush()


def main() -> None:
    logging.basicConfig(level=os.environ.get("PUBLISHER_LOG_LEVEL", "WARNING"))
    asyncio.run(_serve(json.loads(Path(sys.argv[1]).read_text())))


if __name__ == "__main__":
    main()
