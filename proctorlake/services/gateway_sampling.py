"""Server-side sampling: a webcam frame a second and a screen frame every 10 s, taken from the
streams the gateway received.

The realtime detectors must judge what the server saw, not what a browser chose to send. For
each session publishing to the gateway, Janus forwards the webcam's and the screen's RTP
(VideoRoom ``rtp_forward``, plain RTP to loopback UDP ports); this module reassembles the VP8
frames (RFC 7741), decodes keyframes with PyAV and publishes JPEGs to ``frames.webcam`` and
``frames.screen`` through
:func:`proctorlake.governance.sealed_topics.publish_frame`, exactly as the API does for frames a
browser uploads, and keeps the proctor page's live thumbnail. Forwarding is locked to the
admin key, so only the server can start it.
"""

from __future__ import annotations

import io
import socket
import time
from dataclasses import dataclass, field

import av
from PIL import Image

from proctorlake.core.messages import FrameMessage
from proctorlake.core.settings import Settings
from proctorlake.core.vocabulary import Track
from proctorlake.governance import erased_sessions, sealed_topics
from proctorlake.services.gateway_recording import GatewayRoom, room_request, room_secret
from proctorlake.storage import gateway
from proctorlake.storage.object_store import (
    LIVE_THUMBNAIL_EVERY_S,
    live_thumbnail_key,
    open_object_store,
)
from proctorlake.storage.rtp import TS_SPACE
from proctorlake.storage.rtp_vp8 import VIDEO_CLOCK_HZ, is_vp8_keyframe, parse_rtp_vp8

SAMPLE_EVERY_S = 1.0
"""One webcam frame a second: the rate the detectors and the temporal rules are built for."""
SAMPLE_WIDTH = 640
"""The width the exam page sends its frames at (the detectors scale to their own width)."""
VP8_PAYLOAD_TYPE = 96
RECEIVE_BUFFER_BYTES = 1 << 20
"""Room for the packets that come while the sampler's one thread decodes a sample, asks the
gateway something or waits on Kafka: ~10 s of an 800 kbit/s webcam (the kernel's default,
~200 kB, holds ~2 s). The kernel caps it at ``net.core.rmem_max``."""
PACKETS_PER_TURN = 256
"""At most this many packets are taken from one socket before the others get their turn."""


@dataclass
class Vp8Assembler:
    """Collects RTP payloads into whole VP8 frames (a frame with a lost packet is dropped);
    ``temporal_layer`` is the last frame's TID (None when the sender codes no layers)."""

    parts: list[bytes] = field(default_factory=list)
    complete: bool = False
    temporal_layer: int | None = None
    timestamp: int = 0  # the last frame's RTP timestamp (90 kHz)

    def push(self, packet: bytes) -> bytes | None:
        parsed = parse_rtp_vp8(packet)
        if parsed is None or not parsed.data:
            return None
        if parsed.starts_frame:
            self.parts = []
            self.complete = True
            self.temporal_layer = parsed.temporal_layer
            self.timestamp = parsed.timestamp
        if not self.complete:
            return None
        self.parts.append(parsed.data)
        if not parsed.marker:
            return None
        self.complete = False
        return b"".join(self.parts)


MAX_BASE_LAYER_GAP_S = 0.5
"""Base-layer frames this close apart give a sample each second on time (a 15 fps camera's base
layer comes every 0.27 s); sparser (a camera under 8 fps), every layer is decoded."""


@dataclass
class LayerFilter:
    """Which frames of a layered VP8 stream the sampler decodes: the base layer alone when its
    frames come at least every ``MAX_BASE_LAYER_GAP_S``, every frame otherwise.

    Base-layer frames refer only to base-layer frames, so leaving the upper layers out is safe
    at any moment; an upper-layer frame may refer to earlier upper-layer frames, so decoding
    them again waits for a keyframe. A stream without layers (no TID) is decoded whole."""

    every_layer: bool = True
    wants_every_layer: bool = False
    last_base_timestamp: int | None = None

    def decodes(self, temporal_layer: int | None, keyframe: bool, timestamp: int) -> bool:
        if not temporal_layer:  # the base layer, or no layers at all
            if self.last_base_timestamp is not None:
                gap_s = ((timestamp - self.last_base_timestamp) % TS_SPACE) / VIDEO_CLOCK_HZ
                self.wants_every_layer = gap_s > MAX_BASE_LAYER_GAP_S
                if not self.wants_every_layer:
                    self.every_layer = False
            self.last_base_timestamp = timestamp
            if keyframe and self.wants_every_layer:
                self.every_layer = True
            return True
        return self.every_layer


@dataclass
class PendingFrames:
    """The frames a sample may need, decoded only when one is due.

    Decoding every frame (of the base layer) as it comes wastes the frames after a sample that
    the next keyframe makes useless: with a keyframe about every second (the room asks for
    one) and a sample every second, a third to a half of them. Here a frame waits until a sample
    is due, then the frames since the last decoded one go through the decoder in order, so the
    sample is the same picture, bit for bit; a keyframe drops what waits before it. At most a
    sample interval of frames waits."""

    frames: list[bytes] = field(default_factory=list)

    def add(self, data: bytes, keyframe: bool) -> None:
        if keyframe:
            self.frames.clear()
        self.frames.append(data)

    def decode_latest(self, decoder: av.CodecContext) -> tuple[av.VideoFrame | None, int, int]:
        """Decodes what waits; returns the newest frame's picture (None when that one did not
        decode), the frames decoded and those of them the decoder refused."""
        pictures: list[av.VideoFrame] = []
        refused = 0
        for data in self.frames:
            try:
                pictures = decoder.decode(av.Packet(data))
            except av.error.FFmpegError:
                pictures = []
                refused += 1  # and the next ones may be refused too, until a keyframe
        decoded = len(self.frames)
        self.frames.clear()
        return (pictures[-1] if pictures else None), decoded, refused


KEYFRAME_EARLY_S = 0.5
"""A keyframe this close before a sample is due is taken as the sample (see :func:`sample_now`)."""


def sample_now(now: float, due: float, keyframe: bool) -> bool:
    """Whether the frame that just came is sampled: any frame once a sample is due, and a
    keyframe already in the half second before.

    A keyframe decodes alone, whereas a frame taken at the due time needs its keyframe and every
    base-layer frame since decoded first (2.5 decodes a sample on average, measured at 8
    sessions). The room asks for a keyframe every second, so most samples fall on one; the
    schedule (``due`` moves a second a sample) keeps the rate at one a second."""
    return now >= due or (keyframe and now >= due - KEYFRAME_EARLY_S)


def to_jpeg(frame: av.VideoFrame, width: int = SAMPLE_WIDTH) -> bytes:
    """The frame as a JPEG at most ``width`` wide. Through ``to_ndarray`` (the same RGB
    pixels as ``to_image``, measured 0.5 ms against 2.75 ms for 640x480 in PyAV 18)."""
    image = Image.fromarray(frame.to_ndarray(format="rgb24"))
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


@dataclass(frozen=True)
class TrackSampling:
    """How one track is sampled: its m-line at the gateway, how often, at what width, and
    whether only keyframes are decoded."""

    track: Track
    mid: str
    every_s: float
    width: int
    keyframes_only: bool


TRACK_SAMPLING = (
    # The webcam's frames are decoded as they come, so a sample is taken each second; keyframes
    # alone come too seldom. The exam page sends the webcam in three temporal layers (L1T3):
    # the base layer is a quarter of the frames (3.75 fps of a 15 fps camera) and decodes
    # alone, so only it is decoded (see LayerFilter).
    TrackSampling(Track.WEBCAM, "0", SAMPLE_EVERY_S, SAMPLE_WIDTH, keyframes_only=False),
    # The screen once every 10 s at the width the page sends (the OCR reads title bars): the
    # next keyframe after the sample is due, nothing decoded in between.
    TrackSampling(Track.SCREEN, "1", 10.0, 1280, keyframes_only=True),
)


class TrackSampler:
    """Receives one session's forwarded track and publishes a frame every ``every_s``.

    With ``keyframes_only`` only keyframes are decoded: each decodes alone, and the room asks
    the publisher for one every second, so the decoder sleeps between samples (decoding every
    frame of a 15 fps 720p screen would cost many times more). Of a stream sent in temporal
    layers, only the base layer is decoded while it is dense enough (:class:`LayerFilter`), and
    of that only what the next sample needs (:class:`PendingFrames`).

    It has no thread of its own: its socket does not block, and whoever owns it (the sampler
    worker, one loop for every session's tracks) calls :meth:`receive` when the socket is
    readable: one thread however many tracks (a thread each cost three times the CPU per packet
    in a microbenchmark, 47 against 16 µs; at the media-plane bench's 8 sessions, the same)."""

    def __init__(
        self, settings: Settings, producer: object, room: GatewayRoom, sampling: TrackSampling
    ) -> None:
        self.settings = settings
        self.producer = producer
        self.room = room
        self.sampling = sampling
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.publisher: str | None = None
        self.frames_published = 0
        self.frames_received = 0
        self.last_packet_at = 0.0  # time.monotonic() of the last packet received
        self.frames_decoded = 0
        self.frames_undecodable = 0
        self.thumbnail_at = 0.0
        self.store = open_object_store(settings)
        self.decoder = av.CodecContext.create("vp8", "r")
        self.assembler = Vp8Assembler()
        self.layers = LayerFilter()
        self.pending = PendingFrames()
        self.due = 0.0

    def forward_from(self, publisher: str) -> None:
        """Ask the gateway to forward ``publisher``'s stream of this track to our port."""
        room_request(
            self.settings,
            {
                "request": "rtp_forward",
                "room": self.room.session_id,
                "publisher_id": publisher,
                "secret": room_secret(self.settings, self.room.session_id),
                "admin_key": gateway.admin_key(self.settings),
                "host": "127.0.0.1",
                "host_family": "ipv4",
                "streams": [{"mid": self.sampling.mid, "port": self.port, "pt": VP8_PAYLOAD_TYPE}],
            },
        )
        self.publisher = publisher

    def quiet_for(self, seconds: float) -> bool:
        """Whether nothing came for ``seconds``: the publisher left, reconnected (a new
        publisher, not forwarded yet) or was never forwarded."""
        return time.monotonic() - self.last_packet_at >= seconds

    def close(self) -> None:
        self.sock.close()

    def receive(self) -> int:
        """Take the packets waiting on the socket, up to ``PACKETS_PER_TURN`` (it does not
        block); returns how many."""
        received = 0
        while received < PACKETS_PER_TURN:
            try:
                packet = self.sock.recv(65536)
            except BlockingIOError:
                break
            received += 1
            self.take(packet)
        if received:
            self.last_packet_at = time.monotonic()
        return received

    def take(self, packet: bytes) -> None:
        """One RTP packet of the track: a frame it completes is kept for the next sample, and
        when a sample is due the waiting frames are decoded and the newest is published."""
        data = self.assembler.push(packet)
        if data is None:
            return
        self.frames_received += 1
        keyframe = is_vp8_keyframe(data)
        if not self.layers.decodes(
            self.assembler.temporal_layer, keyframe, self.assembler.timestamp
        ):
            return
        if self.sampling.keyframes_only and not keyframe:
            return
        self.pending.add(data, keyframe)
        now = time.time()
        if not sample_now(now, self.due, keyframe):
            return
        picture, decoded, refused = self.pending.decode_latest(self.decoder)
        self.frames_decoded += decoded
        self.frames_undecodable += refused
        if picture is not None:
            self.due = max(self.due + self.sampling.every_s, now)
            self._publish(picture, int(now * 1000))

    def _publish(self, frame: av.VideoFrame, captured_at_ms: int) -> None:
        message = FrameMessage(
            session_id=self.room.session_id,
            institution_id=self.room.institution_id,
            track=self.sampling.track,
            captured_at_ms=captured_at_ms,
            started_at_ms=self.room.started_at_ms,
        )
        jpeg = to_jpeg(frame, self.sampling.width)
        sealed_topics.publish_frame(self.settings, self.producer, message, jpeg)
        self.frames_published += 1
        if self.sampling.track != Track.WEBCAM:
            return
        if captured_at_ms / 1000 - self.thumbnail_at >= LIVE_THUMBNAIL_EVERY_S:
            self.thumbnail_at = captured_at_ms / 1000
            with erased_sessions.admitted_session(self.settings, self.room.session_id):
                self.store.put_bytes(live_thumbnail_key(self.room.session_id), jpeg)


def current_publisher(settings: Settings, session_id: str) -> str | None:
    """The id of whoever publishes in the session's room now (None: nobody, or no room)."""
    data = room_request(settings, {"request": "listparticipants", "room": session_id})
    publishers = [p["id"] for p in data.get("participants", []) if p.get("publisher")]
    return str(publishers[0]) if publishers else None
