"""The files of the sandbox Slack workspace: those the bot uploads (files_upload_v2's steps)
and those agents attach, until deleted."""

import json
import threading
import uuid
from typing import Any

from local_stack.sandbox.fields import as_str

# The most files one files.completeUploadExternal shares (Slack fails from the 15th; a
# report to slack_sdk's maintainers, python-slack-sdk#1653).
_FILES_PER_UPLOAD = 14


class SlackFiles:
    """Files by id: name, type and bytes (None until uploaded), and whether the bot uploaded
    it (else an agent attached it); the ids of those deleted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, dict[str, Any]] = {}
        self._deleted: set[str] = set()

    def add(self, name: str, mimetype: str, content: bytes | None, *, by_bot: bool) -> str:
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        with self._lock:
            self._files[file_id] = {
                "name": name,
                "mimetype": mimetype,
                "content": content,
                "by_bot": by_bot,
            }
        return file_id

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._files)

    def describe(self, file_id: str, root_url: str) -> dict[str, Any]:
        """A file as Slack describes it, its download URL on this server (`root_url`)."""
        with self._lock:
            stored = self._files[file_id]
        return {
            "id": file_id,
            "name": stored["name"],
            "mimetype": stored["mimetype"],
            "size": len(stored["content"] or b""),
            "url_private_download": f"{root_url}/files/{file_id}/{stored['name']}",
        }

    def upload(self, file_id: str, content: bytes) -> bool:
        """The bytes of a file whose upload URL was given; False if no such upload."""
        with self._lock:
            stored = self._files.get(file_id)
            if stored is None:
                return False
            stored["content"] = content
        return True

    def download(self, file_id: str) -> tuple[bytes, str] | None:
        """A file's bytes and type, once uploaded."""
        with self._lock:
            stored = self._files.get(file_id)
            if stored is None or stored["content"] is None:
                return None
            return stored["content"], stored["mimetype"]

    def complete(self, params: dict[str, Any], root_url: str) -> dict[str, Any]:
        """`files.completeUploadExternal`: the uploaded files shared in a channel or thread."""
        try:
            listed = json.loads(as_str(params.get("files")) or "[]")
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        ids = [str(item.get("id")) for item in listed if isinstance(item, dict)]
        with self._lock:
            uploaded = all(self._files.get(i, {}).get("content") is not None for i in ids)
        if not ids or not uploaded:
            return {"ok": False, "error": "file_not_found"}
        if len(ids) > _FILES_PER_UPLOAD:
            # As Slack: past 14 files in one completion it fails, and does so every time.
            return {"ok": False, "error": "internal_error"}
        share = {as_str(params.get("channel_id")): [{"thread_ts": as_str(params.get("thread_ts"))}]}
        files = [{**self.describe(i, root_url), "shares": share} for i in ids]
        return {"ok": True, "files": files}

    def delete(self, file_id: str) -> dict[str, Any]:
        """`files.delete`; as Slack, a bot deletes only the files it uploaded."""
        with self._lock:
            if file_id in self._deleted:
                return {"ok": False, "error": "file_deleted"}
            stored = self._files.get(file_id)
            if stored is None:
                return {"ok": False, "error": "file_not_found"}
            if not stored.get("by_bot"):
                return {"ok": False, "error": "cant_delete_file"}
            del self._files[file_id]
            self._deleted.add(file_id)
        return {"ok": True}
