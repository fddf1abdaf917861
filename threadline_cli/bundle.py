"""The Lambda bundle, made smaller after `chalice package`: the AWS SDK's service models
kept for the services the functions call, and no other. It lives with the operators' tools,
not the local stack: packaging is a step of deploying, which the local stack never does.

The bundle brings its own boto3 and botocore (docs/adr/0005-the-bundle-brings-its-sdk.md);
botocore's models of every AWS service are most of its size (16 of 29 MB zipped), and the
functions call eight. `chalicelib.bootstrap.AWS_SERVICES` names them, and a client for any
other is refused there, so a model this leaves out is one no function can ask for.

    python -m threadline_cli.bundle out/deployment.zip
"""

import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from chalicelib.bootstrap import AWS_SERVICES

MODELS = "botocore/data/"


def kept(name: str, services: frozenset[str] = AWS_SERVICES) -> bool:
    """Whether a bundle member stays: anything outside botocore's models, the models'
    shared files (endpoints, partitions, retry rules), and the models of `services`."""
    if not name.startswith(MODELS):
        return True
    service, _, rest = name.removeprefix(MODELS).partition("/")
    return not rest or service in services


def trim(bundle: Path, services: frozenset[str] = AWS_SERVICES) -> tuple[int, int]:
    """Rewrites the zip without the models of other services; returns its size before and
    after, in bytes."""
    before = bundle.stat().st_size
    with tempfile.NamedTemporaryFile(dir=bundle.parent, suffix=".zip", delete=False) as handle:
        trimmed = Path(handle.name)
    with (
        zipfile.ZipFile(bundle) as source,
        zipfile.ZipFile(trimmed, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for member in source.infolist():
            if kept(member.filename, services):
                with source.open(member) as read, target.open(member, "w") as write:
                    shutil.copyfileobj(read, write)
    trimmed.replace(bundle)
    return before, bundle.stat().st_size


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    before, after = trim(Path(sys.argv[1]))
    print(
        f"{sys.argv[1]}: {before / 1e6:.1f} MB → {after / 1e6:.1f} MB (AWS SDK models kept: "
        f"{', '.join(sorted(AWS_SERVICES))})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
