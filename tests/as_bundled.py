"""A pytest plugin (`-p tests.as_bundled`): the modules the Lambda bundle leaves out
(`threadline_cli.bundle.kept`: twilio's async stack, its products the adapter does not call)
cannot be imported, as in the bundle, so tests run under it prove the code never needs them."""

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

from threadline_cli.bundle import kept

# Where the code could reach what the bundle leaves out: the rest of twilio's async stack
# (attrs, yarl, …) is reached through aiohttp alone, and the test tools use attrs themselves.
GUARDED = frozenset({"twilio", "aiohttp", "aiohttp_retry"})


def left_out(module: str) -> bool:
    """Whether the bundle leaves out the package or module of this name (of those guarded)."""
    path = module.replace(".", "/")
    guarded = module.split(".", 1)[0] in GUARDED
    return guarded and not (kept(f"{path}/__init__.py") and kept(f"{path}.py"))


class LeftOutOfTheBundle(importlib.abc.MetaPathFinder):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if left_out(fullname):
            raise ModuleNotFoundError(f"{fullname} is not in the Lambda bundle", name=fullname)
        return None


already = sorted(name for name in sys.modules if left_out(name))
if already:
    raise RuntimeError(f"imported before the plugin could leave them out: {already}")
sys.meta_path.insert(0, LeftOutOfTheBundle())
