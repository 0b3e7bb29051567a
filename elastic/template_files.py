"""Where templates are found: the site's own folder first, then the ones elastic ships.

Layer: rendering support (reads files; imports elastic.config only). The templates are
package data (``elastic/templates/``, read through ``importlib.resources``), so an
installed elastic needs no checkout and an upgrade brings its templates along. A site
adds or overrides one by putting a file of the same name in ``site.templates_dir``
(e.g. an EL9 ``cloud-init/sge.yaml.j2``): that folder is the site's, so no upgrade
touches it, and a name is looked up there before the packaged one. A ``templates_dir``
that is set but missing is a site mistake (a ConfigError), never a silent fall back to
the packaged template. The dead-man agent's files are always the packaged ones: its
config is generated for that very agent, and a site copy would fall behind on upgrade.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader, PackageLoader

from elastic.config import ConfigError, Site


def packaged() -> Traversable:
    """The templates elastic ships (``elastic/templates`` in the installed package)."""
    return files("elastic").joinpath("templates")


def site_templates_dir(site: Site | None) -> Path | None:
    """The site's own template folder, resolved against the site file, or None."""
    if site is None or site.site.templates_dir is None:
        return None
    folder = site.resolve(site.site.templates_dir)
    if not folder.is_dir():
        raise ConfigError(
            Path(site.source),
            [f"{site.source}: site.templates_dir: {folder} is not a folder"],
        )
    return folder


def loader(site: Site | None) -> BaseLoader:
    """A Jinja2 loader over the site's folder (when it has one), then the packaged one."""
    folder = site_templates_dir(site)
    packaged_loader = PackageLoader("elastic", "templates")
    if folder is None:
        return packaged_loader
    return ChoiceLoader([FileSystemLoader(str(folder)), packaged_loader])


def sources(site: Site | None, subdir: str) -> dict[str, str]:
    """``{"<subdir>/<name>": text}`` of every ``*.j2`` in ``subdir``, the site's copy of a
    name replacing the packaged one: what a render would load."""
    found = {
        f"{subdir}/{entry.name}": entry.read_text(encoding="utf-8")
        for entry in packaged().joinpath(subdir).iterdir()
        if entry.name.endswith(".j2") and entry.is_file()
    }
    folder = site_templates_dir(site)
    if folder is not None and (folder / subdir).is_dir():
        for path in (folder / subdir).glob("*.j2"):
            found[f"{subdir}/{path.name}"] = path.read_text(encoding="utf-8")
    return dict(sorted(found.items()))
