"""A cloud-init NoCloud seed: an ISO 9660 image labelled ``cidata``, built in Python.

Layer: pure (bytes in, bytes out; pycdlib). cloud-init's NoCloud datasource
finds the seed by its volume label and reads ``user-data`` and ``meta-data``
(Rock Ridge and Joliet names, so the lower-case names survive). No
genisoimage/xorriso process, so nothing to install and nothing to shell out to.
"""

from __future__ import annotations

import io

import pycdlib


def _add(iso: pycdlib.PyCdlib, name: str, data: bytes, short: str) -> None:
    iso.add_fp(io.BytesIO(data), len(data), f"/{short}.;1", rr_name=name, joliet_path=f"/{name}")


def build_seed_iso(user_data: str, meta_data: str, network_config: str | None = None) -> bytes:
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="cidata")
    _add(iso, "user-data", user_data.encode(), "USERDATA")
    _add(iso, "meta-data", meta_data.encode(), "METADATA")
    if network_config is not None:
        _add(iso, "network-config", network_config.encode(), "NETWORKC")
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()


def read_seed_iso(image: bytes) -> dict[str, str]:
    """The files of a seed image by their Rock Ridge names (for tests and checks)."""
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(image))
    files = {}
    try:
        for name in ("user-data", "meta-data", "network-config"):
            out = io.BytesIO()
            try:
                iso.get_file_from_iso_fp(out, rr_path=f"/{name}")
            except pycdlib.pycdlibexception.PyCdlibInvalidInput:
                continue
            files[name] = out.getvalue().decode()
    finally:
        iso.close()
    return files
