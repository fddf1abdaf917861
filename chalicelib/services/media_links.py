"""Customers' links to agents' files: made when a reply carries more files than its channel
takes as media, opened at `GET /media/{token}` (chalicelib.domain.media_links)."""

from chalicelib.domain.errors import Forbidden, NotFound, Retryable
from chalicelib.domain.media_links import grant_for, read_token, token_for
from chalicelib.media import FOR_REDIRECT_SECONDS
from chalicelib.secrets import DeploymentSecrets
from chalicelib.services.ports import Clock, SharedFiles


class MediaLinks:
    def __init__(
        self, deployment: DeploymentSecrets, files: SharedFiles, public_url: str, clock: Clock
    ) -> None:
        self._deployment = deployment
        self._files = files
        self._public_url = public_url
        self._clock = clock

    def link(self, shop_id: str, key: str) -> str:
        """A link to the object `key` of the shop, valid for a week."""
        signing_key = self._deployment.current().media_link_key()
        if signing_key is None:
            raise Retryable("no media link can be signed: the deployment has no admin token")
        token = token_for(grant_for(shop_id, key, self._clock()), signing_key)
        return f"{self._public_url}/media/{token}"

    def open(self, token: str) -> str:
        """Where a link's holder fetches its file now: a URL presigned for the redirect.
        A forged or altered token is Forbidden, an expired one too; a file erased or expired
        since is NotFound."""
        grant = self._deployment.checked(lambda keys: read_token(token, keys.media_link_key()))
        if grant.expired(self._clock()):
            raise Forbidden("this link has expired")
        if not self._files.exists(grant.key):
            raise NotFound("this file is no longer available")
        return self._files.share(grant.key, FOR_REDIRECT_SECONDS)
