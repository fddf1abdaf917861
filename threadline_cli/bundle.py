"""The Lambda bundle, made smaller after `chalice package`: the AWS SDK's service models
kept for the services the functions call, and no other; twilio's products kept for those the
Twilio adapter calls, and twilio's async stack (aiohttp and what only it needs) left out. It
lives with the operators' tools, not the local stack: packaging is a step of deploying, which
the local stack never does.

The bundle brings its own boto3 and botocore (docs/adr/0005-the-bundle-brings-its-sdk.md);
botocore's models of every AWS service are most of its size (16 of 29 MB zipped), and the
functions call eight. `chalicelib.bootstrap.AWS_SERVICES` names them, and a client for any
other is refused there, so a model this leaves out is one no function can ask for.

twilio requires aiohttp and aiohttp-retry for its async client, which Threadline does not use,
and ships the generated client of every Twilio product, of which the adapter calls two
(`chalicelib.channels.twilio.TWILIO_PRODUCTS`); docs/adr/0009-twilio-without-its-async-stack.md
weighs this against the alternatives.

    python -m threadline_cli.bundle out/deployment.zip
"""

import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from chalicelib.bootstrap import AWS_SERVICES
from chalicelib.channels.twilio import TWILIO_PRODUCTS

MODELS = "botocore/data/"
TWILIO_REST = "twilio/rest/"
# twilio's async client and the distributions only it needs (no other bundled distribution
# requires them): their import packages and, the part of a `.dist-info` folder's name
# before the version, their metadata.
ASYNC_ONLY = frozenset(
    {
        "aiohttp",
        "aiohttp_retry",
        "aiohappyeyeballs",
        "aiosignal",
        "attr",
        "attrs",
        "frozenlist",
        "multidict",
        "propcache",
        "yarl",
    }
)


def kept(
    name: str,
    services: frozenset[str] = AWS_SERVICES,
    twilio_products: frozenset[str] = TWILIO_PRODUCTS,
) -> bool:
    """Whether a bundle member stays: anything but botocore's models, twilio's products,
    twilio's async stack and bytecode caches; the models' shared files (endpoints,
    partitions, retry rules) and the models of `services`; twilio's client itself and the
    products in `twilio_products`."""
    if name.split("/", 1)[0].split("-", 1)[0] in ASYNC_ONLY:
        return False
    if "__pycache__/" in name:
        # The app's folder as it is on the machine that packages: bytecode of its Python
        # (chalice copies chalicelib whole), which Lambda's Python would not read.
        return False
    if name.startswith(TWILIO_REST):
        product, _, rest = name.removeprefix(TWILIO_REST).partition("/")
        return not rest or product in twilio_products
    if not name.startswith(MODELS):
        return True
    service, _, rest = name.removeprefix(MODELS).partition("/")
    return not rest or service in services


def trim(bundle: Path, services: frozenset[str] = AWS_SERVICES) -> tuple[int, int]:
    """Rewrites the zip without what `kept` leaves out; returns its size before and after,
    in bytes."""
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
        f"{', '.join(sorted(AWS_SERVICES))}; Twilio products kept: "
        f"{', '.join(sorted(TWILIO_PRODUCTS))}; twilio's async stack left out)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
