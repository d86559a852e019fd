"""Hugging Face Hub reachability: fail fast, with a reason, when the Hub cannot be reached.

``huggingface_hub`` retries a request that cannot connect with back-off (about 50 s before it gives up on a
machine without a network). Before a download this module asks the network once, with a short timeout, so that an
unreachable Hub is reported at once and a model already in the local cache is loaded from it without retries."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

__all__ = ["HUB_PROBE_TIMEOUT", "hub_unreachable", "offline_mode"]

HUB_PROBE_TIMEOUT = 3.0  # seconds for the name lookup and the TCP connection of the probe


def offline_mode() -> bool:
    """Whether offline mode is on (``HF_HUB_OFFLINE``, or ``TRANSFORMERS_OFFLINE``, set to 1/true/yes/on)."""
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    return bool(constants.HF_HUB_OFFLINE) or any(str(f).lower() in ("1", "true", "yes", "on") for f in flags if f)


def hub_unreachable(endpoint: str | None = None, timeout: float = HUB_PROBE_TIMEOUT) -> str | None:
    """Why the Hub at ``endpoint`` (default: ``HF_ENDPOINT``, https://huggingface.co) cannot be reached: the host's
    name does not resolve or no TCP connection opens within ``timeout`` seconds; ``None`` when it can.

    A proxy (``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY``) takes the request elsewhere, so with one set the
    probe says nothing (``None``) and the client's own error stands."""
    from huggingface_hub import constants

    url = urlparse(endpoint or constants.ENDPOINT)
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")):
        return None
    host = url.hostname or ""
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except socket.gaierror:
        return f"{host} does not resolve (no network or no DNS)"
    except TimeoutError:
        return f"{host}:{port} did not answer within {timeout:g} s"
    except OSError as err:
        return f"{host}:{port} refused the connection ({err.strerror or err})"
