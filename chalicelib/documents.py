"""Models of the documents a cache keeps (a shop's config, its secrets, the deployment's),
validated once per document read rather than once per request.

powertools' parameter cache hands back the very object it stored for as long as it keeps
it, and a read (expiry, `force_fetch`, a cache cleared after a write) stores a new one. So
the model validated from a document stays right while that same object comes back, and
every new document is validated afresh: nothing changed or unvalidated slips through.
"""

from typing import Generic, TypeVar

from pydantic import BaseModel

Model = TypeVar("Model", bound=BaseModel)


class ValidatedDocuments(Generic[Model]):
    """`model` validated from each name's document, again only when the document is a new
    object. The models are frozen (pydantic `frozen=True`), so sharing one is safe."""

    def __init__(self, model: type[Model]) -> None:
        self._model = model
        # The document is held with its model, so its id cannot pass to another object.
        self._validated: dict[str, tuple[object, Model]] = {}

    def __call__(self, name: str, document: object) -> Model:
        known = self._validated.get(name)
        if known is not None and known[0] is document:
            return known[1]
        validated = self._model.model_validate(document)
        self._validated[name] = (document, validated)
        return validated
