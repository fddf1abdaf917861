"""The admin API document's schemas, as pydantic gives them for the models it serves.

`python -m tests.openapi_schemas` writes them into `chalicelib/openapi.json` after a model
changed; its paths, and the schemas no model gives (`Error`), stay as written by hand.
"""

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from chalicelib.domain.checks import CheckReport
from chalicelib.domain.conversation import Conversation
from chalicelib.domain.reports import Report
from chalicelib.domain.shop import ShopDocument
from chalicelib.presentation.transcript import TranscriptEntry
from chalicelib.services.shop_messages import ShopMessageRequest

OPENAPI = Path(__file__).resolve().parents[1] / "chalicelib" / "openapi.json"


def current_schemas() -> dict[str, Any]:
    _, schemas = models_json_schema(
        [
            (ShopDocument, "validation"),
            (Conversation, "serialization"),
            (TranscriptEntry, "serialization"),
            (ShopMessageRequest, "validation"),
            (Report, "serialization"),
            (CheckReport, "serialization"),
        ],
        ref_template="#/components/schemas/{model}",
    )
    return dict(schemas["$defs"])


def main() -> None:
    document = json.loads(OPENAPI.read_text("utf-8"))
    document["components"]["schemas"].update(current_schemas())
    OPENAPI.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
