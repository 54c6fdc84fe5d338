"""An eqsat rule family shipped as a package (entry point `eqsat.rules`: pkg = "eqsat_rules_example").

    pkg.drop_self_convert   convert(t, a, a) -> t      a conversion to the layout a tile already has
"""

from __future__ import annotations

from typing import Any

import numpy as np
from egglog import String, eq, rule, union, var
from eqsat.rules.harness import Instance, interpreter_rule
from eqsat.rules.instances import random_global, random_layout, random_shape

from eqsat.egraph.interpret import Env
from eqsat.egraph.terms import Layout, Tile

FAMILY = "pkg"

c, x, a, ty = var("c", Tile), var("x", Tile), var("a", Layout), var("ty", String)


def _instance(seed: int) -> Instance:
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, 2)
    layout = random_layout(rng, shape)
    ty_s = f"{shape[0]}x{shape[1]}xf32"
    env = Env(loads={0: random_global(rng, shape)})
    lhs = Tile.load(0, Layout(layout), ty_s).convert(Layout(layout), Layout(layout), ty_s)
    return Instance(lhs, env)


RULES = [interpreter_rule(
    "pkg.drop_self_convert", "A conversion to the layout the tile already has is the tile.",
    "none (source and destination are the same text)",
    [rule(eq(c).to(x.convert(a, a, ty)), name="pkg.drop_self_convert").then(union(c).with_(x))],
    _instance, plan_choice="convert_path")]


def seed(egraph: Any, encoded: Any, model: Any) -> None:
    """This family needs no facts."""
