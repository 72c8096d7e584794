"""Server-side recording: the gateway's raw ``.mjr`` files become the chunks the batch path ingests.

Janus (VideoRoom, ``record = true``) writes one ``.mjr`` per received stream into
``PROCTORLAKE_HOME/gateway/recordings/{session_id}/``. :func:`collect_session` turns them into
the object layout the MediaRecorder upload already fills, so Dagster picks them up unchanged:

- a recording is rotated (VideoRoom ``enable_recording`` off, then on) two seconds before it is
  ``chunk_seconds`` old, so no chunk is longer than one analysis chunk;
- a closed ``.mjr`` (rotated, its publisher left, or the gateway died: no Janus holds it open,
  :func:`~proctorlake.storage.gateway.files_held_open`) is muxed into WebM from the packets
  Janus recorded (:func:`~proctorlake.storage.webm_chunks.write_chunk`, what ``janus-pp-rec``
  does, without its three processes a chunk), stored as
  ``sessions/{id}/{track}/{chunk_start_ms:012d}.webm``, listed in the manifest with the
  publisher id as its ``chain``, and its raw file is deleted;
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
import time
from dataclasses import asdict, dataclass
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
from proctorlake.storage.rtp_opus import OpusPacket, opus_packets
from proctorlake.storage.rtp_vp8 import decodable_frames
from proctorlake.storage.scratch import session_scratch
from proctorlake.storage.webm_chunks import write_chunk

log = logging.getLogger(__name__)

ROOM_FILE = "room.json"
UNREADABLE_SUFFIX = ".unreadable"
"""A raw recording that could not be read is renamed to this and left alone."""
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


def _discard_erased(settings: Settings, session_id: str, folder: Path) -> None:
    """An erased session's room is destroyed (nothing more is recorded) and whatever Janus
    wrote since the erasure is deleted unread."""
    with contextlib.suppress(gateway.GatewayError, OSError):
        close_room(settings, session_id)
    shutil.rmtree(folder, ignore_errors=True)


def _microphone_packets(microphone: RawRecording) -> list[OpusPacket]:
    """The microphone's Opus packets. One that cannot be read costs only the sound: the chunk
    is stored without it, and the raw file is kept beside the others (renamed) for a person
    to look at."""
    try:
        return opus_packets(mjr.rtp_packets(microphone.path))
    except (mjr.MjrFormatError, OSError) as exc:
        log.warning("%s: webcam chunk stored without its microphone (%s)", microphone.path, exc)
        microphone.path.rename(microphone.path.with_suffix(UNREADABLE_SUFFIX))
        return []


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
    sound: list[OpusPacket] = []
    heard_us = None
    if microphone is not None and (heard_us := first_packet_us(microphone.path)) is not None:
        sound = _microphone_packets(microphone)  # none: a muted device, a denied permission
    with session_scratch(settings, "gateway", room.session_id) as tmp:
        webm = tmp / "chunk.webm"
        try:
            frames = decodable_frames(mjr.rtp_packets(recording.path))
            offset_s = (heard_us - started_us) / 1e6 if heard_us is not None else 0.0
            copy = write_chunk(webm, frames, sound, offset_s)
        except (av.error.FFmpegError, mjr.MjrFormatError, ValueError) as exc:
            raise GatewayRecordingError(f"{recording.path.name} is unreadable: {exc}") from exc
        if copy is None:
            return None  # no keyframe ever came: nothing decodable was recorded
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
