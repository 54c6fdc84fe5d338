"""The deliberately wrong variant of docs/examples/gather_from_global.py (docs/rules.md): the rule fires
without its precondition, also on loads whose mask cuts the gathered axis. `eqsat rules check --rules
docs/examples/gather_from_global_wrong.py` must fail, with the smallest instance that shows it."""

from __future__ import annotations

import importlib.util
from functools import partial
from pathlib import Path

from egglog import eq, rule, union

_spec = importlib.util.spec_from_file_location("gather_from_global", Path(__file__).with_name(
    "gather_from_global.py"))
right = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(right)  # type: ignore[union-attr]

from eqsat.rules.harness import property_rule  # noqa: E402

from eqsat.egraph.terms import Tile  # noqa: E402

FAMILY = "mine_wrong"
seed = right.seed

WRONG = property_rule(
    "mine_wrong.gather_from_global",
    right.GATHER_FROM_GLOBAL.doc, "none (wrong: the mask precondition is missing)",
    [rule(eq(right.t).to(Tile.gather(Tile.load(right.op, right.a, right.tys), right.idx, right.axis,
                                     right.lay, right.ty)),
          name="mine_wrong.gather_from_global").then(
              union(right.t).with_(
                  Tile.gather_global(right.op, right.idx, right.axis, right.lay, right.ty)))],
    right.EXAMPLES, partial(right.make_instance, with_precondition=False), plan_choice="gather_strategy")

RULES = [WRONG]
