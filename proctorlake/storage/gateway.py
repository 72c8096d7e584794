"""The media gateway: Debian's Janus (1.1.2), its generated configuration and its HTTP API.

Janus receives each exam page's WebRTC (webcam, screen, microphone) so that the evidence is
recorded by the server, not by the browser that the student controls. ``proctorlake up / down
/ status`` run it like the other local services (:mod:`proctorlake.app.launchers`); this module
writes what it reads, everything under ``PROCTORLAKE_HOME/gateway``:

- ``config/``: ``janus.jcfg`` plus the one transport (HTTP on 127.0.0.1) and the one plugin
  (VideoRoom) it loads; every other plugin, transport, logger and event handler is off;
- ``recordings/{session_id}/``: the raw ``.mjr`` files Janus records (personal data: erasure
  and retention cover them, see :func:`raw_recording_dir`);
- ``admin_key``: the VideoRoom ``admin_key``, so only the server creates rooms and picks where
  they record (a browser could otherwise aim ``rec_dir`` anywhere).

Why VideoRoom: it is the plugin that takes several streams from one publisher (webcam, screen,
microphone in one PeerConnection), records each to its own file, and lets a second peer (the
proctor page, the sampler) subscribe to the same streams. EchoTest and RecordPlay record, but
serve nobody else.

ICE: ``ice_enforce_list`` is ``PROCTORLAKE_GATEWAY_ICE_INTERFACES`` (a deployment names its
public interface). Its default ``lo`` does not keep media on loopback: Janus 1.1.2 gathers no
candidate on a loopback interface, nothing matches, and libnice then gathers on every
interface (checked in Janus's SDP on the 2-core machine: eth0's addresses only). Media between
processes of one machine still stays on it (the kernel delivers to its own addresses).
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from proctorlake.core.ids import check_id
from proctorlake.core.settings import Settings
from proctorlake.storage.private_files import (
    create_private_file_once,
    make_private_dirs,
    write_private_file,
)

JANUS_BINARY = "/usr/bin/janus"
PLUGINS_FOLDER = "/usr/lib/x86_64-linux-gnu/janus/plugins"
TRANSPORTS_FOLDER = "/usr/lib/x86_64-linux-gnu/janus/transports"
VIDEOROOM = "janus.plugin.videoroom"


@dataclass(frozen=True)
class GatewayPaths:
    """Where one PROCTORLAKE_HOME keeps the gateway's files."""

    root: Path

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def recordings_dir(self) -> Path:
        return self.root / "recordings"

    @property
    def admin_key_file(self) -> Path:
        return self.root / "admin_key"

    @property
    def main_config(self) -> Path:
        return self.config_dir / "janus.jcfg"


def gateway_paths(settings: Settings) -> GatewayPaths:
    return GatewayPaths(settings.home / "gateway")


def gateway_url(settings: Settings) -> str:
    """Base URL of the Janus HTTP API (the pages and the server both use it)."""
    return f"http://127.0.0.1:{settings.gateway_port}/janus"


def raw_recording_dir(settings: Settings, session_id: str) -> Path:
    """The folder Janus records one session's ``.mjr`` files into."""
    return gateway_paths(settings).recordings_dir / check_id("session_id", session_id)


def admin_key(settings: Settings) -> str:
    """The VideoRoom admin key, made once per home (0600)."""
    path = gateway_paths(settings).admin_key_file
    create_private_file_once(path, (secrets.token_urlsafe(24) + "\n").encode())
    return path.read_text().strip()


def _quote(value: str) -> str:
    return json.dumps(value)


def janus_config(settings: Settings) -> str:
    """``janus.jcfg``: loopback ICE, a small RTP port range, only HTTP + VideoRoom loaded.

    ``event_loops``: one media loop per core shared by all handles, instead of Janus's default
    thread per handle, whose wake-ups per packet cost more than the packets' work (measured
    with ``bench/media_plane.py``: Janus 0.0106 -> 0.0087 CPU s per session-second)."""
    paths = gateway_paths(settings)
    low = settings.gateway_rtp_port_low
    return f"""general: {{
  configs_folder = {_quote(str(paths.config_dir))}
  plugins_folder = {_quote(PLUGINS_FOLDER)}
  transports_folder = {_quote(TRANSPORTS_FOLDER)}
  log_to_stdout = true
  debug_level = 4
  server_name = "proctorlake-gateway"
  session_timeout = 60
  event_loops = {os.cpu_count() or 1}
  protected_folders = ["/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr", "/var"]
}}
media: {{
  rtp_port_range = "{low}-{low + 999}"
  no_media_timer = 2
}}
nat: {{
  ice_enforce_list = {_quote(settings.gateway_ice_interfaces)}
  ice_ignore_list = "vmnet"
  ignore_mdns = true
  nice_debug = false
}}
plugins: {{
  disable = "libjanus_audiobridge.so,libjanus_duktape.so,libjanus_echotest.so,\
libjanus_lua.so,libjanus_nosip.so,libjanus_recordplay.so,libjanus_sip.so,libjanus_streaming.so,\
libjanus_textroom.so,libjanus_videocall.so,libjanus_voicemail.so"
}}
transports: {{
  disable = "libjanus_websockets.so,libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_pfunix.so,\
libjanus_rabbitmq.so"
}}
events: {{
  broadcast = false
}}
loggers: {{
  disable = "libjanus_jsonlog.so"
}}
"""


def http_transport_config(settings: Settings) -> str:
    """The HTTP transport: plain HTTP on 127.0.0.1 only, no admin API."""
    return f"""general: {{
  json = "compact"
  base_path = "/janus"
  http = true
  port = {settings.gateway_port}
  ip = "127.0.0.1"
  https = false
}}
admin: {{
  admin_http = false
  admin_https = false
}}
cors: {{
  allow_origin = "*"
}}
"""


def videoroom_config(settings: Settings) -> str:
    """VideoRoom: string room ids (the session id), rooms only made with the admin key."""
    return f"""general: {{
  admin_key = {_quote(admin_key(settings))}
  lock_rtp_forward = true
  string_ids = true
}}
"""


def write_config(settings: Settings) -> GatewayPaths:
    """Write (or rewrite) the gateway's configuration; called before every start."""
    paths = gateway_paths(settings)
    make_private_dirs(paths.config_dir)
    make_private_dirs(paths.recordings_dir)
    files = {
        paths.main_config: janus_config(settings),
        paths.config_dir / "janus.transport.http.jcfg": http_transport_config(settings),
        paths.config_dir / "janus.plugin.videoroom.jcfg": videoroom_config(settings),
    }
    for path, text in files.items():
        write_private_file(path, text.encode(), durable=False)
    return paths


def janus_argv(settings: Settings) -> tuple[str, ...]:
    """The command line ``proctorlake up`` runs (``-o``: no colour codes in the log)."""
    paths = gateway_paths(settings)
    return (JANUS_BINARY, "-C", str(paths.main_config), "-F", str(paths.config_dir), "-o")


def _running_janus_pids() -> set[int]:
    """Every running Janus, looked up through all of ``/proc`` each time (~2 ms): a
    remembered pid would miss a Janus started after it (a restart while the old one is still
    going, a second gateway on the host), and that Janus's recordings would be taken for
    finished while it writes them. The recorder looks once per pass, not once per session."""
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().strip() == "janus":
                pids.add(int(proc.name))
        except OSError:
            continue  # gone meanwhile
    return pids


def files_held_open(folder: Path) -> set[Path]:
    """The files under ``folder`` some running Janus still has open (a recording in progress).

    Exact where an idle timer guesses: a recording stays open from the moment Janus creates it
    (before its first keyframe arrives) until it is rotated, its publisher leaves or Janus
    exits, and no file Janus still writes is ever taken for finished."""
    folder = folder.resolve()
    held: set[Path] = set()
    for pid in _running_janus_pids():
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = Path(os.readlink(fd))
                if target.is_relative_to(folder):
                    held.add(target)
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return held


class GatewayError(RuntimeError):
    """Janus answered a request with an error; the message carries Janus's own reason."""


def janus_request(url: str, body: dict[str, object], timeout_s: float = 10.0) -> dict:
    """POST one Janus API request (a fresh transaction id) and return the reply."""
    payload = {"transaction": secrets.token_hex(6), **body}
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        reply = json.loads(response.read())
    if reply.get("janus") == "error":
        raise GatewayError(str(reply.get("error")))
    return reply
