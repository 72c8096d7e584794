"""Server-side recording: the gateway's raw ``.mjr`` files become the chunks the batch path ingests.

Janus (VideoRoom, ``record = true``) writes one ``.mjr`` per received stream into
``PROCTORLAKE_HOME/gateway/recordings/{session_id}/``. :func:`collect_session` turns them into
the object layout the MediaRecorder upload already fills, so Dagster picks them up unchanged:

- a recording is rotated (VideoRoom ``enable_recording`` off, then on) two seconds before it is
  ``chunk_seconds`` old, so no chunk is longer than one analysis chunk;
- a closed ``.mjr`` (rotated, its publisher left, or the gateway died: no Janus holds it open,
  :func:`~proctorlake.storage.gateway.files_held_open`) is post-processed by ``janus-pp-rec``
  into WebM, stored as ``sessions/{id}/{track}/{chunk_start_ms:012d}.webm``, listed in the
  manifest with the publisher id as its ``chain``, and its raw file is deleted;
- a publisher that reconnects (new PeerConnection, new publisher id) starts a new chain; the
  silence before it is the chunk's ``gap_before_ms`` (:func:`number_chunks`, the upload's rule);
- the microphone (an Opus ``.mjr`` of the same publisher, rotated with the video) is muxed into
  the webcam chunk, starting where the chunk's video starts, as a browser recording carries it
  (the batch path's voice activity detection reads it from there).

Times: ``chunk_start_ms`` counts from the session's start, like uploaded segments; the
``.mjr`` header gives the wall-clock time of its first packet.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import av

from proctorlake.core.ids import check_id
from proctorlake.core.settings import Settings
from proctorlake.governance import erased_sessions
from proctorlake.storage import gateway, mjr
from proctorlake.storage.manifests import number_chunks, update_manifest
from proctorlake.storage.object_store import chunk_key, open_object_store
from proctorlake.storage.private_files import write_private_file
from proctorlake.storage.rtp_vp8 import VIDEO_CLOCK_HZ, FrameCheck, decodable_frames
from proctorlake.storage.scratch import session_scratch

log = logging.getLogger(__name__)

PP_REC = "/usr/bin/janus-pp-rec"
ROOM_FILE = "room.json"
UNREADABLE_SUFFIX = ".unreadable"
"""A raw recording janus-pp-rec or the decoder refused is renamed to this and left alone."""
ROOM_EXISTS = 427  # VideoRoom's JANUS_VIDEOROOM_ERROR_ROOM_EXISTS
NO_SUCH_ROOM = 426
ROTATE_EARLY_S = 2.0
"""A recording is rotated this much before a chunk's length: a slow pass (a busy machine:
a rotation is eight HTTP requests to Janus) still closes it before it passes the upload's
bound of one chunk plus one second."""
KEYFRAME_REQUEST_EVERY_S = 1
"""How often the room asks publishers for a keyframe. Janus also asks when a recording is
(re)enabled and when an RTP forward starts, but Chromium did not answer those at once:
with a request every 3 s, a rotated webcam recording began up to 3 s after the rotation and a
2 s last chunk held no keyframe at all (measured), so that video was lost. Every second
bounds it at a second, and the sampler's decoder (and its screen track, which decodes
keyframes only) resumes within a second after a lost packet."""
WEBCAM_MINDEX = 0
"""The exam page adds the webcam first: its m-line (index 0) is the webcam, any other video
m-line is the screen."""


class GatewayRecordingError(RuntimeError):
    """A raw recording could not be post-processed; the message names the file."""


@dataclass(frozen=True)
class GatewayRoom:
    """What the recorder needs to know of a session; written beside its raw recordings."""

    session_id: str
    institution_id: str
    exam_id: str
    started_at_ms: int


def room_secret(settings: Settings, session_id: str) -> str:
    """The room's secret (needed to toggle recording or destroy it), never given to a page."""
    key = gateway.admin_key(settings).encode()
    return hmac.new(key, session_id.encode(), hashlib.sha256).hexdigest()


def room_pin(settings: Settings, session_id: str) -> str:
    """The room's PIN: joining (to publish or to watch) needs it; the API gives it only to
    the session's student and to staff who may see the session."""
    key = gateway.admin_key(settings).encode()
    return hmac.new(key, b"pin:" + session_id.encode(), hashlib.sha256).hexdigest()[:32]


def room_access(settings: Settings, session_id: str) -> dict[str, str]:
    """What a page needs to join the session's room: the gateway's URL, the room, its PIN."""
    return {
        "url": gateway.gateway_url(settings),
        "room": session_id,
        "pin": room_pin(settings, session_id),
    }


def room_request(settings: Settings, body: dict[str, object]) -> dict:
    """One VideoRoom request on a short-lived gateway session; returns the plugin's data."""
    url = gateway.gateway_url(settings)
    session = gateway.janus_request(url, {"janus": "create"})["data"]["id"]
    try:
        handle = gateway.janus_request(
            f"{url}/{session}", {"janus": "attach", "plugin": gateway.VIDEOROOM}
        )["data"]["id"]
        reply = gateway.janus_request(
            f"{url}/{session}/{handle}", {"janus": "message", "body": body}
        )
    finally:
        gateway.janus_request(f"{url}/{session}", {"janus": "destroy"})
    return reply["plugindata"]["data"]


def open_room(settings: Settings, room: GatewayRoom) -> dict[str, str]:
    """Make sure the session's room exists and records (after a gateway restart too); returns
    what the exam page needs to publish (:func:`room_access`)."""
    folder = gateway.raw_recording_dir(settings, room.session_id)
    meta = folder / ROOM_FILE
    if not meta.exists():
        write_private_file(meta, json.dumps(asdict(room)).encode())
    data = room_request(
        settings,
        {
            "request": "create",
            "room": room.session_id,
            "admin_key": gateway.admin_key(settings),
            "secret": room_secret(settings, room.session_id),
            "pin": room_pin(settings, room.session_id),
            "publishers": 1,
            "is_private": True,
            "record": True,
            "rec_dir": str(folder),
            "videocodec": "vp8",
            "audiocodec": "opus",
            "fir_freq": KEYFRAME_REQUEST_EVERY_S,
        },
    )
    if data.get("error_code") not in (None, ROOM_EXISTS):
        raise gateway.GatewayError(str(data.get("error")))
    return room_access(settings, room.session_id)


def close_room(settings: Settings, session_id: str) -> None:
    """Destroy the session's room (the exam ended): Janus closes its recordings."""
    data = room_request(
        settings,
        {"request": "destroy", "room": session_id, "secret": room_secret(settings, session_id)},
    )
    if data.get("error_code") not in (None, NO_SUCH_ROOM):
        raise gateway.GatewayError(str(data.get("error")))


def rotate(settings: Settings, session_id: str) -> None:
    """Close the room's recordings and open new ones (Janus names each file by its time)."""
    for record in (False, True):
        data = room_request(
            settings,
            {
                "request": "enable_recording",
                "room": session_id,
                "secret": room_secret(settings, session_id),
                "record": record,
            },
        )
        if "error_code" in data:
            raise gateway.GatewayError(str(data.get("error")))


@dataclass(frozen=True)
class RawRecording:
    """One ``.mjr``: which publisher (chain), which stream of it, when its first packet came."""

    path: Path
    chain: str
    kind: str  # video, audio or data
    mindex: int
    created_us: int  # when Janus opened the file (its name): a rotation opens all at once


def raw_recordings(folder: Path, session_id: str) -> list[RawRecording]:
    """The session's ``.mjr`` files as VideoRoom names them
    (``videoroom-{room}-user-{publisher}-{time_us}-{kind}-{mindex}.mjr``)."""
    pattern = re.compile(
        rf"^videoroom-{re.escape(session_id)}-user-(?P<chain>.+)-(?P<t>\d+)"
        r"-(?P<kind>video|audio|data)-(?P<mindex>\d+)\.mjr$"
    )
    found = []
    for path in sorted(folder.glob("*.mjr")):
        if match := pattern.match(path.name):
            found.append(
                RawRecording(
                    path, match["chain"], match["kind"], int(match["mindex"]), int(match["t"])
                )
            )
    return found


def first_packet_us(path: Path) -> int | None:
    """Wall-clock time (µs) of the recording's first packet, from the ``.mjr`` header; None
    before any packet came."""
    header = mjr.read_header(path)
    return None if header is None else int(header.get("u") or header["s"])


def video_track(recording: RawRecording) -> str:
    """Which track a raw video recording is (by its m-line, see ``WEBCAM_MINDEX``)."""
    return "webcam" if recording.mindex == WEBCAM_MINDEX else "screen"


class SeenRecordings(NamedTuple):
    """A session's raw recordings, listed *before* looking at which files Janus holds open:
    a file listed first and not held afterwards is closed for good (Janus never reopens one),
    whereas one created after the look would be taken for closed while Janus writes it."""

    recordings: list[RawRecording]
    held: set[Path]


def collect_session(
    settings: Settings,
    session_id: str,
    now_s: float | None = None,
    seen: SeenRecordings | None = None,
) -> list[dict]:
    """Rotate the session's recordings that reached a chunk's length and store every closed
    one; returns the manifest entries stored by this call. ``seen``: the session's recordings
    and Janus's open files, when the caller just looked (see :class:`SeenRecordings`)."""
    check_id("session_id", session_id)
    folder = gateway.raw_recording_dir(settings, session_id)
    if erased_sessions.is_erased(settings, session_id):
        _discard_erased(settings, session_id, folder)
        return []
    try:
        room = GatewayRoom(**json.loads((folder / ROOM_FILE).read_text()))
    except FileNotFoundError:
        return []
    now_s = time.time() if now_s is None else now_s
    if seen is None:
        seen = SeenRecordings(raw_recordings(folder, session_id), gateway.files_held_open(folder))
    every, held = seen
    recordings = [r for r in every if r.kind == "video"]
    closed, open_ = [], []
    for recording in recordings:
        (open_ if recording.path.resolve() in held else closed).append(recording)
    due = False
    for recording in open_:
        started = first_packet_us(recording.path)
        age_s = now_s - started / 1e6 if started is not None else 0.0
        due = due or age_s >= settings.chunk_seconds - ROTATE_EARLY_S
    if due:
        rotate(settings, session_id)
        closed += open_
        held = gateway.files_held_open(folder)
    microphones = [r for r in every if r.kind == "audio" and r.path.resolve() not in held]
    stored = []
    for recording in closed:
        track = video_track(recording)
        microphone = paired_microphone(recording, microphones) if track == "webcam" else None
        try:
            entry = _store(settings, room, recording, track, microphone)
        except GatewayRecordingError:
            # Kept beside the others (erasure and retention remove the folder) for a person
            # to look at; the session's other recordings go on being stored.
            recording.path.rename(recording.path.with_suffix(UNREADABLE_SUFFIX))
            raise
        if entry:
            stored.append(entry)
        recording.path.unlink(missing_ok=True)
        if microphone is not None:
            microphone.path.unlink(missing_ok=True)
    return stored


PAIRING_WINDOW_US = 2_000_000
"""A webcam recording and its publisher's microphone recording were opened by the same
publish or rotation, so their file times are this close (Janus opens them one after another)."""


def paired_microphone(video: RawRecording, audio: list[RawRecording]) -> RawRecording | None:
    """The closed microphone recording opened with ``video`` (same publisher, same rotation)."""
    same_chain = [a for a in audio if a.chain == video.chain]
    nearest = min(same_chain, key=lambda a: abs(a.created_us - video.created_us), default=None)
    if nearest is None or abs(nearest.created_us - video.created_us) > PAIRING_WINDOW_US:
        return None
    return nearest


@dataclass(frozen=True)
class DecodableCopy:
    """What :func:`decodable_copy` kept: where its first keyframe lay (seconds after the
    recording's first packet), how long the copy plays and how many frames it holds."""

    skipped_s: float
    duration_s: float
    frame_count: int


def decodable_copy(
    source: Path, target: Path, frames: list[FrameCheck] | None = None
) -> DecodableCopy | None:
    """Copy the WebM's decodable frames, timestamps shifted to start at its first keyframe;
    None when nothing is decodable.

    A rotated recording starts mid-stream (Janus writes every packet from the rotation on),
    and a frame that lost a packet on the way cannot be decoded, nor can what follows it until
    the next keyframe (the room asks for one every second): those are left out, so every
    chunk decodes from end to end, and the gap they leave shows in the frame timestamps.
    Which frames decode is read from the raw recording's sequence numbers (``frames``, see
    :func:`~proctorlake.storage.rtp_vp8.decodable_frames`) when they line up with the WebM's
    frames, so nothing is decoded; otherwise every frame is decoded to find out.
    The copy's duration is measured on the same pass (as :func:`~proctorlake.storage.video.probe`
    measures it: first to last frame plus one frame interval), so no chunk is decoded twice."""
    with av.open(str(source)) as src, av.open(str(target), "w", format="webm") as out:
        video = src.streams.video[0]
        packets = [p for p in src.demux(video) if p.pts is not None and p.size]
        keep = _kept_by_sequence_numbers(packets, frames, video.time_base)
        if keep is None:
            log.info("%s: frames not lined up with the raw recording; decoding to check", source)
            keep = _kept_by_decoding(packets, video.codec_context.name)
        stream = out.add_stream_from_template(video)
        first_pts = packets[0].pts if packets else None
        keyframe_pts = last_pts = None
        count = 0
        for packet, kept in zip(packets, keep, strict=True):
            if not kept:
                continue
            keyframe_pts = packet.pts if keyframe_pts is None else keyframe_pts
            packet.pts -= keyframe_pts
            packet.dts = packet.pts
            last_pts = packet.pts if last_pts is None else max(last_pts, packet.pts)
            count += 1
            packet.stream = stream
            out.mux(packet)
        if keyframe_pts is None or last_pts is None or first_pts is None:
            return None
        span = float(last_pts * video.time_base)
        interval = span / (count - 1) if count > 1 and span > 0 else 1.0
        return DecodableCopy(
            skipped_s=float((keyframe_pts - first_pts) * video.time_base),
            duration_s=round(span + interval, 3),
            frame_count=count,
        )


FRAME_TIME_TOLERANCE_MS = 1.5
"""``janus-pp-rec`` rounds each frame's RTP time (90 kHz) to the WebM's milliseconds."""


def _kept_by_sequence_numbers(
    packets: list[av.Packet], frames: list[FrameCheck] | None, time_base: Fraction
) -> list[bool] | None:
    """Which WebM frames decode, from the raw recording's frame checks; None when the two do not
    line up frame for frame (same count, same times), so the caller decodes instead."""
    if not frames or len(frames) != len(packets):
        return None
    for packet, frame in zip(packets, frames, strict=True):
        webm_ms = float((packet.pts - packets[0].pts) * time_base) * 1000
        rtp_ms = (frame.timestamp - frames[0].timestamp) * 1000 / VIDEO_CLOCK_HZ
        if abs(webm_ms - rtp_ms) > FRAME_TIME_TOLERANCE_MS:
            return None
    return [frame.decodable for frame in frames]


def _kept_by_decoding(packets: list[av.Packet], codec: str) -> list[bool]:
    """Which frames decode, found by decoding them all (a keyframe starts, an error stops
    until the next keyframe)."""
    decoder = av.CodecContext.create(codec, "r")
    keep = []
    broken = True  # until a keyframe decodes
    for packet in packets:
        if broken and not packet.is_keyframe:
            keep.append(False)
            continue
        try:
            decoder.decode(packet)
        except av.error.FFmpegError:
            broken = True
            keep.append(False)
            continue
        broken = False
        keep.append(True)
    return keep


def _discard_erased(settings: Settings, session_id: str, folder: Path) -> None:
    """An erased session's room is destroyed (nothing more is recorded) and whatever Janus
    wrote since the erasure is deleted unread."""
    with contextlib.suppress(gateway.GatewayError, OSError):
        close_room(settings, session_id)
    shutil.rmtree(folder, ignore_errors=True)


def _post_process(recording: RawRecording, target: Path) -> None:
    """``janus-pp-rec``: a raw ``.mjr`` into a playable file (WebM for VP8, Ogg for Opus)."""
    done = subprocess.run(
        [PP_REC, str(recording.path), str(target)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0 or not target.exists():
        raise GatewayRecordingError(
            f"janus-pp-rec failed on {recording.path.name}: {done.stderr.strip()[-500:]}"
        )


def with_microphone(video_webm: Path, opus: Path, offset_s: float, target: Path) -> bool:
    """``video_webm`` with the Opus track of ``opus`` added, shifted by ``offset_s`` (where the
    microphone's first packet lies on the video's clock); sound before the video's first
    frame is left out. A microphone that starts after the video keeps its offset in the
    timestamps, but ``video.read_audio`` reads samples from the video's start (browser
    recordings start both tracks together), so that lag (tens of ms: both streams open in the
    same publish) shifts what VAD reports. False (and no ``target``) when the microphone file
    has no packet."""
    with av.open(str(video_webm)) as video_in, av.open(str(opus)) as audio_in:
        if not audio_in.streams.audio:
            return False
        audio = audio_in.streams.audio[0]
        with av.open(str(target), "w", format="webm") as out:
            video_out = out.add_stream_from_template(video_in.streams.video[0])
            audio_out = out.add_stream_from_template(audio)
            for packet in video_in.demux(video_in.streams.video[0]):
                if packet.size:
                    packet.stream = video_out
                    out.mux(packet)
            shift = round(offset_s / audio.time_base)
            first_pts = None
            for packet in audio_in.demux(audio):
                if packet.pts is None or packet.size == 0:
                    continue
                first_pts = packet.pts if first_pts is None else first_pts
                pts = packet.pts - first_pts + shift
                if pts < 0:
                    continue
                packet.pts = packet.dts = pts
                packet.stream = audio_out
                out.mux(packet)
    if first_pts is None:
        target.unlink(missing_ok=True)
        return False
    return True


def _add_microphone(webm: Path, microphone: RawRecording, video_start_us: int, tmp: Path) -> None:
    """Mux the microphone into the chunk in place. A microphone recording that cannot be read
    costs only the sound: the chunk is stored without it, and the raw file is kept beside the
    others (renamed) for a person to look at."""
    heard_us = first_packet_us(microphone.path)
    if heard_us is None:
        return  # the microphone sent nothing (muted device, denied permission)
    opus, muxed = tmp / "microphone.opus", tmp / "chunk-with-microphone.webm"
    try:
        _post_process(microphone, opus)
        if with_microphone(webm, opus, (heard_us - video_start_us) / 1e6, muxed):
            muxed.replace(webm)
    except (GatewayRecordingError, av.error.FFmpegError, OSError) as exc:
        log.warning("%s: webcam chunk stored without its microphone (%s)", microphone.path, exc)
        microphone.path.rename(microphone.path.with_suffix(UNREADABLE_SUFFIX))


def _store(
    settings: Settings,
    room: GatewayRoom,
    recording: RawRecording,
    track: str,
    microphone: RawRecording | None = None,
) -> dict | None:
    started_us = first_packet_us(recording.path)
    if started_us is None:
        return None  # the recorder opened but no packet ever came
    with session_scratch(settings, "gateway", room.session_id) as tmp:
        raw_webm, webm = tmp / "raw.webm", tmp / "chunk.webm"
        _post_process(recording, raw_webm)
        try:
            frames = decodable_frames(mjr.rtp_packets(recording.path))
            copy = decodable_copy(raw_webm, webm, frames)
        except (av.error.FFmpegError, mjr.MjrFormatError) as exc:
            raise GatewayRecordingError(f"{recording.path.name} is unreadable: {exc}") from exc
        if copy is None:
            return None  # no keyframe ever came: nothing decodable was recorded
        if microphone is not None:
            _add_microphone(webm, microphone, started_us + round(copy.skipped_s * 1e6), tmp)
        start_ms = max(0, started_us // 1000 + round(copy.skipped_s * 1000) - room.started_at_ms)
        end_ms = start_ms + max(1, round(copy.duration_s * 1000))
        key = chunk_key(room.session_id, track, start_ms, "webm")
        entry = {
            "track": track,
            "chunk_start_ms": start_ms,
            "chunk_end_ms": end_ms,
            "original_key": key,
            "analysis_key": None,
            "bytes": webm.stat().st_size,
            "sha256": hashlib.sha256(webm.read_bytes()).hexdigest(),
            "source": "gateway",
            "chain": recording.chain,
        }
        store = open_object_store(settings)

        def add_entry(manifest: dict | None) -> dict:
            manifest = manifest or {
                "session_id": room.session_id,
                "institution_id": room.institution_id,
                "exam_id": room.exam_id,
                "source": "realtime",
                "chunks": [],
            }
            if not any(c["original_key"] == key for c in manifest["chunks"]):
                store.put_file(key, webm)
                manifest["chunks"].append(dict(entry))
                manifest["chunks"].sort(key=lambda c: (c["track"], c["chunk_start_ms"]))
                number_chunks(manifest["chunks"])
                manifest["updated_at"] = dt.datetime.now(dt.UTC).isoformat()
            return manifest

        with erased_sessions.admitted_session(settings, room.session_id):
            update_manifest(settings, room.session_id, add_entry)
    return entry


def collect_all(settings: Settings) -> list[dict]:
    """One pass of the recorder over every session the gateway holds recordings of."""
    root = gateway.gateway_paths(settings).recordings_dir
    if not root.exists():
        return []
    folders = sorted(root.glob("*/"))
    listed = {folder.name: raw_recordings(folder, folder.name) for folder in folders}
    held = gateway.files_held_open(root)  # one look for all sessions: passes come 4 a second
    stored = []
    for folder in folders:
        seen = SeenRecordings(listed[folder.name], held)
        stored += collect_session(settings, folder.name, seen=seen)
    return stored
