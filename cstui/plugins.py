"""Loading evaluator plug-ins: files or modules named by `--plugin` or `plugins = [...]` in cstui.toml, and
packages that declare the `cstui.evaluators` entry-point group.

Importing a plug-in runs its `@cstui.api.evaluator` decorators, which register the evaluators. Every failure
is one `PluginError` line naming the plug-in (the CLI exits 2 with it); the specs loaded so far are kept so
worker processes can load the same ones.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path

from cstui.evaluators import registry
from cstui.evaluators.registry import ENTRY_POINT_GROUP, PluginError, load_entry_points
from cstui.evaluators.registry import describe_error as _describe

__all__ = ["ENTRY_POINT_GROUP", "PluginError", "load", "load_configured", "load_entry_points", "loaded_specs"]

_loaded_specs: list[str] = []


def loaded_specs() -> list[str]:
    """The `--plugin` / config specs loaded in this process, in order (entry points load themselves)."""
    return list(_loaded_specs)


def _is_path(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def load(specs: Iterable[str], *, base: Path | None = None) -> list[str]:
    """Load plug-ins by file path or module name; returns the ids of the evaluators they registered.

    `base`: the directory relative paths are read from (the config file's, for `plugins` in cstui.toml)."""
    registry.all_evaluators()  # built-ins first, so a plug-in cannot take their ids unnoticed
    new_ids: list[str] = []
    for spec in specs:
        before = {ev.id: ev for ev in registry.all_evaluators()}
        resolved = spec
        if _is_path(spec):
            path = Path(spec).expanduser()
            if not path.is_absolute() and base is not None and (base / path).exists():
                path = base / path
            resolved = str(path.resolve())
            _import_file(spec, path)
        else:
            _import_module(spec)
        if resolved not in _loaded_specs:
            _loaded_specs.append(resolved)
        after = registry.all_evaluators()
        added = [ev.id for ev in after if before.get(ev.id) is not ev]
        if not added and not any(ev.source == resolved or ev.source == spec for ev in after):
            raise PluginError(f"plugin {spec}: defines no evaluator (decorate a function with "
                              "@cstui.api.evaluator(id=..., dimension=...))")
        new_ids.extend(added)
    return new_ids


def _import_file(spec: str, path: Path) -> None:
    if not path.is_file():
        raise PluginError(f"plugin {spec}: no such file")
    name = "cstui_plugin_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise PluginError(f"plugin {spec}: not a Python file")
    module = importlib.util.module_from_spec(module_spec)
    module.__cstui_plugin__ = str(path.resolve())  # type: ignore[attr-defined]
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except PluginError:
        raise
    except BaseException as exc:  # noqa: BLE001 - a plug-in's own error, a SyntaxError or a SystemExit alike
        from cstui.evaluators import registry

        sys.modules.pop(name, None)
        registry.remove_source(str(path.resolve()))  # what it registered before failing goes too
        raise PluginError(f"plugin {spec}: {_describe(exc, path)}") from None


def _import_module(spec: str) -> None:
    try:
        if spec in sys.modules:
            importlib.reload(sys.modules[spec])
        else:
            importlib.import_module(spec)
    except PluginError:
        raise
    except ModuleNotFoundError as exc:
        raise PluginError(f"plugin {spec}: no module named {exc.name!r} (a file path must end in .py)") from None
    except BaseException as exc:  # noqa: BLE001
        raise PluginError(f"plugin {spec}: {_describe(exc)}") from None


def load_configured(cfg: object, extra: Iterable[str] = ()) -> list[str]:
    """The plug-ins of `plugins` in cstui.toml (paths relative to that file), then those given on the command line."""
    ids: list[str] = []
    configured = list(getattr(cfg, "plugins", []) or [])
    if configured:
        origin = getattr(cfg, "source", {}).get("plugins")
        ids += load(configured, base=Path(origin).parent if origin else None)
    extra = list(extra)
    if extra:
        ids += load(extra)
    return ids
