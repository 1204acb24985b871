"""Every style id mentioned in any spec document resolves, so a new doc is covered automatically."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pixelforge.catalog import load_catalog

SPEC_DIR = Path(
    os.environ.get("PIXELFORGE_SPEC_DIR", Path(__file__).resolve().parents[3] / "shared" / "spec")
)

# A style id: <family>__<name>. The lookahead stops before glued text of HTML scrapes
# (002_: "rd_plus__isometric45 degree", "rd_plus__topdown_asset3/4 top down", "rd_fast__defaultSimple").
_ID = r"(?:rd_[a-z_]*[a-z]|animation)__[a-z0-9_]+?(?=\d+ degree|\d/\d|[^a-z0-9_]|$)"
# "rd_advanced_animation__walking, __idle, __jump" (llms.txt): a bare __name continues the last prefix.
TOKEN_RE = re.compile(rf"(?<![A-Za-z0-9_])(?:(?P<id>{_ID})|__(?P<short>[a-z0-9_]+))")
# Internal ids such as "default:rd_flux" (llms.txt).
INTERNAL_RE = re.compile(r"""(?<=["'\s`])([a-z0-9_]+:rd_[a-z]+)(?=["'\s`])""")


def spec_files() -> list[Path]:
    if not SPEC_DIR.is_dir():
        return []
    return sorted(p for p in SPEC_DIR.rglob("*") if p.suffix in {".txt", ".md"} and p.is_file())


def mentioned_ids() -> dict[str, set[str]]:
    """style id -> the spec files (relative paths) that mention it."""
    found: dict[str, set[str]] = {}
    for path in spec_files():
        rel = path.relative_to(SPEC_DIR).as_posix()
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            prefix = None
            for m in TOKEN_RE.finditer(line):
                if m.group("id"):
                    sid = m.group("id")
                    prefix = sid.split("__", 1)[0]
                elif prefix is not None:
                    sid = f"{prefix}__{m.group('short')}"
                else:
                    continue
                found.setdefault(sid, set()).add(rel)
            for m in INTERNAL_RE.finditer(line):
                found.setdefault(m.group(1), set()).add(rel)
    return found


pytestmark = pytest.mark.skipif(not spec_files(), reason=f"spec documents not found under {SPEC_DIR}")


def test_extraction_finds_the_documented_catalog() -> None:
    ids = mentioned_ids()
    # sanity: the regex sees the whole catalog, including shorthand and internal ids
    assert len(ids) >= 90, sorted(ids)
    for sid in (
        "rd_advanced_animation__crouch",
        "default:rd_flux",
        "animation__walking_and_idle",
        "rd_plus__isometric",
        "rd_fast__1_bit",
        "rd_mini__fast_low_res",
    ):
        assert sid in ids
    assert "rd_plus__isometric45" not in ids


def test_every_documented_style_id_resolves() -> None:
    catalog = load_catalog()
    missing = {sid: sorted(src) for sid, src in mentioned_ids().items() if sid not in catalog}
    assert not missing, f"style ids in the spec docs that the catalog does not know: {missing}"


def test_every_current_id_is_a_listed_style_not_just_an_alias() -> None:
    """Ids of the newest docs (retrodiffusion-current) are first-class selector entries."""
    catalog = load_catalog()
    listed = {s.id for s in catalog.styles()}
    current = {
        sid
        for sid, sources in mentioned_ids().items()
        if ":" not in sid
        and not sid.startswith("animation__")
        and any(src.startswith("retrodiffusion-current/") for src in sources)
    }
    assert current, "no ids found in retrodiffusion-current"
    assert current <= listed, sorted(current - listed)
