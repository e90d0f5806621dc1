#!/usr/bin/env python3
"""Writes an OCI image layout holding one image: the esox binary as /esox on an empty base,
with the files and settings of Containerfile. Reproducible: same inputs, same digests (file
times, owners and gzip header are fixed).

usage: oci_layout.py OUT_DIR BINARY VERSION REVISION
"""
import gzip
import hashlib
import io
import json
import shutil
import sys
import tarfile
from pathlib import Path

out, binary, version, revision = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")  # Debian's ca-certificates, as the Containerfile's build stage
UID = 65532

labels = {
    "org.opencontainers.image.title": "esox",
    "org.opencontainers.image.description": "Keeps Kubernetes Secrets in sync with secret stores (External Secrets Operator's resources)",
    "org.opencontainers.image.licenses": "Apache-2.0",
    "org.opencontainers.image.version": version,
    "org.opencontainers.image.revision": revision,
}

files = [
    # (path in the image, mode, bytes)
    ("esox", 0o755, binary.read_bytes()),
    ("etc/group", 0o644, b"root:x:0:\nnonroot:x:65532:\n"),
    ("etc/passwd", 0o644, b"root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/:/sbin/nologin\n"),
    ("etc/ssl/certs/ca-certificates.crt", 0o644, CA_BUNDLE.read_bytes()),
]


def layer_tar():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({str(Path(p).parent) for p, _, _ in files if str(Path(p).parent) != "."})
        # Parents first: etc, etc/ssl, etc/ssl/certs.
        all_dirs = sorted({"/".join(d.split("/")[: i + 1]) for d in dirs for i in range(len(d.split("/")))})
        for d in all_dirs:
            info = tarfile.TarInfo(d + "/")
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
        for path, mode, data in sorted(files):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def blob(data, media_type):
    digest = hashlib.sha256(data).hexdigest()
    (out / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (out / "blobs" / "sha256" / digest).write_bytes(data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


if out.exists():
    shutil.rmtree(out)
out.mkdir(parents=True)
tar = layer_tar()
gz = gzip.compress(tar, compresslevel=9, mtime=0)
layer = blob(gz, "application/vnd.oci.image.layer.v1.tar+gzip")
config = {
    "architecture": "amd64",
    "os": "linux",
    "config": {
        "User": f"{UID}:{UID}",
        "Entrypoint": ["/esox"],
        "Cmd": ["run"],
        "Env": ["SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"],
        "Labels": labels,
    },
    "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(tar).hexdigest()}"]},
    "history": [{"created_by": "scripts/build-image: esox, CA bundle, passwd/group", "created": "1970-01-01T00:00:00Z"}],
    "created": "1970-01-01T00:00:00Z",
}
config_desc = blob(canonical(config), "application/vnd.oci.image.config.v1+json")
manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": config_desc,
    "layers": [layer],
    "annotations": labels,
}
manifest_desc = blob(canonical(manifest), "application/vnd.oci.image.manifest.v1+json")
manifest_desc["annotations"] = {"org.opencontainers.image.ref.name": version}
manifest_desc["platform"] = {"architecture": "amd64", "os": "linux"}
(out / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
(out / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [manifest_desc]}, indent=2))
print(f"wrote {out}: manifest {manifest_desc['digest']}, layer {len(gz) / 1e6:.1f} MB compressed ({len(tar) / 1e6:.1f} MB uncompressed)")
