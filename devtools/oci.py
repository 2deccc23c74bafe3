"""Deterministic OCI image layouts built without network: a tiny image (one text file, one layer)
and a multi-arch index of multi-layer images (``build_index``)."""

import gzip
import hashlib
import io
import json
import random
import tarfile
from pathlib import Path


def _blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    path = Path(layout) / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return f"sha256:{digest}", len(data)


def _layer(text, name="hello.txt"):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        content = text if isinstance(text, bytes) else text.encode()
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(content), 0, 0o644
        tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    return tar_bytes, gzip.compress(tar_bytes, compresslevel=9, mtime=0)


def build_image(layout, tag="latest", text="hello from pulp_katello_gateway\n", labels=None):
    """Write an OCI layout at ``layout`` with one image tagged ``tag``; returns its digest.

    The same ``text`` and ``labels`` always yield the same manifest digest, so tests can compare
    digests. ``labels`` become the image config's labels (e.g. ``org.flatpak.ref``).
    """
    layout = Path(layout)
    layout.mkdir(parents=True, exist_ok=True)
    tar_bytes, gz = _layer(text)
    diff_id = "sha256:" + hashlib.sha256(tar_bytes).hexdigest()
    layer_digest, layer_size = _blob(layout, gz)
    config = {
        "created": "1970-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/hello.txt"], **({"Labels": labels} if labels else {})},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "devtools.oci"}],
    }
    config_digest, config_size = _blob(layout, json.dumps(config, separators=(",", ":")).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer_digest,
                "size": layer_size,
            }
        ],
    }
    manifest_digest, manifest_size = _blob(
        layout, json.dumps(manifest, separators=(",", ":")).encode()
    )
    index_path = layout / "index.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {
        "schemaVersion": 2,
        "manifests": [],
    }
    index["manifests"] = [
        m for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag
    ] + [
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }
    ]
    index_path.write_text(json.dumps(index))
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return manifest_digest


def _write_image(layout, architecture, layers):
    """One image of ``layers`` (``(tar, gzipped tar)`` pairs) in ``layout``'s blobs; returns its
    manifest's descriptor."""
    diff_ids = ["sha256:" + hashlib.sha256(tar).hexdigest() for tar, _ in layers]
    descriptors = []
    for _, gz in layers:
        digest, size = _blob(layout, gz)
        descriptors.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": digest, "size": size})
    config = {
        "created": "1970-01-01T00:00:00Z",
        "architecture": architecture,
        "os": "linux",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "devtools.oci"}],
    }
    config_digest, config_size = _blob(layout, json.dumps(config, separators=(",", ":")).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config_size},
        "layers": descriptors,
    }
    digest, size = _blob(layout, json.dumps(manifest, separators=(",", ":")).encode())
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest,
            "size": size, "platform": {"architecture": architecture, "os": "linux"}}


def build_index(layout, *, architectures=("amd64", "arm64"), layers=4, layer_bytes=64 * 1024,
                seed=0):
    """Write an OCI layout at ``layout`` whose ``latest`` is a multi-arch index: one image per
    architecture, each of ``layers`` layers holding ``layer_bytes`` of pseudo-random (so
    incompressible) bytes, the same for the same arguments. Returns the index's digest (copy
    it with ``Skopeo.copy(..., all_images=True)``)."""
    layout = Path(layout)
    layout.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    manifests = [
        _write_image(layout, architecture, [
            _layer(rng.randbytes(layer_bytes), f"{architecture}-{number}.bin")
            for number in range(layers)
        ])
        for architecture in architectures
    ]
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": manifests}
    digest, size = _blob(layout, json.dumps(index, separators=(",", ":")).encode())
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": size,
        "annotations": {"org.opencontainers.image.ref.name": "latest"},
    }]}))
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return digest
