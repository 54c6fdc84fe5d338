"""The `layout_of` and `ty_of` analyses as egglog rules: every Tile constructor names its layout and type.

These are not rewrites (no registry `Rule`): they fill the functions of `eqsat.egraph.terms` that the
rewrites match on (`layout_of(src) == a`), and every family's ruleset includes them. Their names start
with `analysis.` so per-rule match counts can tell them apart.
"""

from __future__ import annotations

from typing import Any

from egglog import String, eq, i64, rule, set_, var

from eqsat.egraph.terms import Layout, SharedEnc, Smem, Tile, layout_of, ty_of


def analysis_rules() -> list[Any]:
    """Fresh egglog rules for the analyses (a rule object may belong to one ruleset only)."""
    t, a, b, s, i = (var(n, Tile) for n in ("t", "a", "b", "s", "i"))
    src, lay = var("src", Layout), var("lay", Layout)
    ty = var("ty", String)
    op, axis = var("op", i64), var("axis", i64)
    enc = var("enc", SharedEnc)
    smem = var("smem", Smem)
    constructors = {
        "value": Tile.value(op, lay),
        "load": Tile.load(op, lay, ty),
        "indirect_load": Tile.indirect_load(op, lay, ty),
        "convert": s.convert(src, lay, ty),
        "via_shared": s.via_shared(src, enc, lay, ty),
        "gather": Tile.gather(s, i, axis, lay, ty),
        "gather_shared": Tile.gather_shared(s, i, axis, lay, ty),
        "gather_global": Tile.gather_global(op, i, axis, lay, ty),
        "local_load": smem.local_load(lay, ty),
        "elementwise": Tile.elementwise(op, a, lay, ty),
        "elementwise2": Tile.elementwise2(op, a, b, lay, ty),
    }
    out = []
    for name, pattern in constructors.items():
        facts = set_(layout_of(t)).to(lay)
        if name == "value":
            out.append(rule(eq(t).to(pattern), name=f"analysis.layout_of#{name}").then(facts))
            continue
        named = rule(eq(t).to(pattern), name=f"analysis.layout_of#{name}")
        out.append(named.then(facts, set_(ty_of(t)).to(ty)))
    return out
