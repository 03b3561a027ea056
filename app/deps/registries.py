"""One reader per registry, each speaking that registry's documented public JSON:

- PyPI (and any pip index): the Simple API's JSON form (PEP 691, versions from PEP 700, project
  status markers from PEP 792), `GET {index}/{name}/`; an index that answers HTML (PEP 503) still
  tells whether the name exists;
- npm: the registry's package document, `GET {registry}/{name}` (`time`, `versions.*.deprecated`,
  `maintainers`; the 0.0.1-security holding package is npm's quarantine);
- crates.io: `GET {api}/api/v1/crates/{name}`;
- the Go module proxy: `GET {proxy}/{module}/@v/list`, then `@v/{version}.info` for dates;
- RubyGems: `GET {base}/api/v1/versions/{name}.json`.

Each call is bounded by a deadline; anything but a clear answer raises RegistryError.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import Any

from app import __version__
from app.deps.model import Ecosystem, PackageInfo, RegistryError

PUBLIC: dict[str, str] = {
    "pypi": "https://pypi.org/simple/",
    "npm": "https://registry.npmjs.org/",
    "crates": "https://crates.io/",
    "go": "https://proxy.golang.org/",
    "rubygems": "https://rubygems.org/",
}
_MAX_BODY = 32 << 20
_USER_AGENT = f"lockgate/{__version__} (dependency check)"


def _get(url: str, deadline: float, accept: str = "application/json") -> tuple[int, str, bytes]:
    """(status, content type, body); 404 and 410 are answers, not errors."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise RegistryError("timed out")
    req = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": _USER_AGENT})
    try:
        with urllib.request.urlopen(req, timeout=left) as resp:
            body = resp.read(_MAX_BODY + 1)
            if len(body) > _MAX_BODY:
                raise RegistryError("answer too large")
            return resp.status, resp.headers.get("Content-Type", ""), body
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 410):
            return exc.code, "", b""
        raise RegistryError(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RegistryError(f"cannot reach it ({reason})") from None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise RegistryError("its answer is not JSON") from None


def _date(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        d = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")


def _check_scheme(base: str) -> None:
    if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
        raise RegistryError(f"{base}: only http(s) registries can be asked")


# ------------------------------------------------------------------------------------- PyPI


def normalize_pypi(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pypi_version(filename: str, project: str) -> str:
    stem = filename
    if stem.endswith(".whl"):
        parts = stem.split("-")
        return parts[1] if len(parts) > 2 else ""
    for ext in (".tar.gz", ".tar.bz2", ".zip", ".tgz", ".egg", ".exe"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
            break
    prefix = len(project) + 1
    return stem[prefix:] if len(stem) > prefix else ""


def pypi(name: str, index: str, deadline: float) -> PackageInfo:
    _check_scheme(index)
    url = _join(index, normalize_pypi(name) + "/")
    accept = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"
    status, ctype, body = _get(url, deadline, accept)
    if status in (404, 410):
        return PackageInfo("pypi", name, index, exists=False)
    if "json" not in ctype:
        # PEP 503 HTML: it exists; versions and dates are not given.
        files = re.findall(rb">([^<>]+\.(?:whl|tar\.gz|zip))</a>", body)
        found = {_pypi_version(f.decode(errors="replace"), normalize_pypi(name)) for f in files}
        found.discard("")
        return PackageInfo("pypi", name, index, True, releases=len(found))
    doc = _json(body)
    if not isinstance(doc, dict):
        raise RegistryError("unexpected answer")
    files = [f for f in doc.get("files", []) if isinstance(f, dict)]
    norm = normalize_pypi(doc.get("name") or name).replace("-", "_")
    by_version: dict[str, list[dict[str, Any]]] = {}
    for f in files:
        v = _pypi_version(str(f.get("filename", "")), norm)
        if not v:
            v = _pypi_version(str(f.get("filename", "")), normalize_pypi(name))
        by_version.setdefault(v, []).append(f)
    versions = [str(v) for v in doc.get("versions", [])] or [v for v in by_version if v]
    dates = [d for f in files if (d := _date(f.get("upload-time"))) is not None]
    yanked: dict[str, str] = {}
    for v, fs in by_version.items():
        if v and fs and all(f.get("yanked") for f in fs):
            reasons = [f["yanked"] for f in fs if isinstance(f.get("yanked"), str)]
            yanked[v] = reasons[0] if reasons else ""
    status_obj = doc.get("project-status") or {}
    marker = status_obj.get("status", "") if isinstance(status_obj, dict) else ""
    reason = status_obj.get("reason", "") if isinstance(status_obj, dict) else ""
    return PackageInfo(
        "pypi",
        name,
        index,
        True,
        first_release=min(dates) if dates else None,
        releases=len(versions),
        status="" if marker == "active" else str(marker),
        status_reason=str(reason or ""),
        versions=tuple(versions),
        yanked=yanked,
    )


# -------------------------------------------------------------------------------------- npm


def npm(name: str, registry: str, deadline: float) -> PackageInfo:
    _check_scheme(registry)
    path = name.replace("/", "%2F") if name.startswith("@") else urllib.parse.quote(name)
    status, _, body = _get(_join(registry, path), deadline)
    if status in (404, 410):
        return PackageInfo("npm", name, registry, exists=False)
    doc = _json(body)
    if not isinstance(doc, dict):
        raise RegistryError("unexpected answer")
    raw_times, raw_versions = doc.get("time"), doc.get("versions")
    times: dict[str, Any] = raw_times if isinstance(raw_times, dict) else {}
    versions: dict[str, Any] = raw_versions if isinstance(raw_versions, dict) else {}
    if "unpublished" in times and not versions:
        return PackageInfo(
            "npm",
            name,
            registry,
            True,
            status="unpublished",
            status_reason="every version was unpublished",
            first_release=_date(times.get("created")),
        )
    deprecated = {
        v: str(meta["deprecated"])
        for v, meta in versions.items()
        if isinstance(meta, dict) and meta.get("deprecated")
    }
    description = str(doc.get("description") or "")
    marker, why = "", ""
    if set(versions) == {"0.0.1-security"} or "security holding package" in description.lower():
        marker, why = (
            "quarantined",
            description or "npm replaced it with a security holding package",
        )
    maintainers = doc.get("maintainers")
    dates = [d for k, t in times.items() if k not in ("created", "modified") and (d := _date(t))]
    created = _date(times.get("created"))
    first = min([d for d in (created, *dates) if d is not None], default=None)
    return PackageInfo(
        "npm",
        name,
        registry,
        True,
        first_release=first,
        releases=len(versions),
        maintainers=len(maintainers) if isinstance(maintainers, list) else None,
        status=marker,
        status_reason=why,
        versions=tuple(versions),
        deprecated=deprecated,
    )


# --------------------------------------------------------------------------------- crates.io


def crates(name: str, api: str, deadline: float) -> PackageInfo:
    _check_scheme(api)
    status, _, body = _get(_join(api, f"api/v1/crates/{urllib.parse.quote(name)}"), deadline)
    if status in (404, 410):
        return PackageInfo("crates", name, api, exists=False)
    doc = _json(body)
    crate = doc.get("crate") if isinstance(doc, dict) else None
    if not isinstance(crate, dict):
        raise RegistryError("unexpected answer")
    vs = [v for v in doc.get("versions", []) if isinstance(v, dict)]
    yanked = {str(v.get("num")): "" for v in vs if v.get("yanked")}
    dates = [d for v in vs if (d := _date(v.get("created_at")))]
    created = _date(crate.get("created_at"))
    return PackageInfo(
        "crates",
        name,
        api,
        True,
        first_release=min([d for d in (created, *dates) if d], default=None),
        releases=len(vs),
        versions=tuple(str(v.get("num")) for v in vs),
        yanked=yanked,
    )


# --------------------------------------------------------------------------------- Go proxy


def _go_escape(module: str) -> str:
    return "".join("!" + c.lower() if c.isupper() else c for c in module)


def _semver_key(v: str) -> tuple[int, ...]:
    nums = re.findall(r"\d+", v.split("-", 1)[0].split("+", 1)[0])
    return tuple(int(n) for n in nums[:3]) or (0,)


def go(module: str, proxy: str, deadline: float) -> PackageInfo:
    _check_scheme(proxy)
    base = _join(proxy, _go_escape(module))
    status, _, body = _get(base + "/@v/list", deadline, "text/plain")
    if status in (404, 410):
        return PackageInfo("go", module, proxy, exists=False)
    versions = [v for v in body.decode("utf-8", "replace").split() if v.startswith("v")]
    first: datetime | None = None
    if versions:
        oldest = min(versions, key=_semver_key)
        st, _, info = _get(f"{base}/@v/{oldest}.info", deadline)
        if st == 200:
            doc = _json(info)
            first = _date(doc.get("Time")) if isinstance(doc, dict) else None
    else:
        st, _, info = _get(base + "/@latest", deadline)
        if st in (404, 410):
            return PackageInfo("go", module, proxy, exists=False)
        doc = _json(info)
        first = _date(doc.get("Time")) if isinstance(doc, dict) else None
    return PackageInfo(
        "go",
        module,
        proxy,
        True,
        first_release=first,
        releases=len(versions),
        versions=tuple(versions),
    )


# ---------------------------------------------------------------------------------- RubyGems


def rubygems(name: str, base: str, deadline: float) -> PackageInfo:
    _check_scheme(base)
    url = _join(base, f"api/v1/versions/{urllib.parse.quote(name)}.json")
    status, _, body = _get(url, deadline)
    if status in (404, 410):
        return PackageInfo("rubygems", name, base, exists=False)
    doc = _json(body)
    if not isinstance(doc, list):
        raise RegistryError("unexpected answer")
    vs = [v for v in doc if isinstance(v, dict)]
    dates = [d for v in vs if (d := _date(v.get("created_at")))]
    return PackageInfo(
        "rubygems",
        name,
        base,
        True,
        first_release=min(dates) if dates else None,
        releases=len(vs),
        versions=tuple(str(v.get("number")) for v in vs),
    )


READERS = {"pypi": pypi, "npm": npm, "crates": crates, "go": go, "rubygems": rubygems}


def ask(ecosystem: Ecosystem, name: str, base: str, deadline: float) -> PackageInfo:
    return READERS[ecosystem](name, base, deadline)
