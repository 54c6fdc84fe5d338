"""eqsat.lowering: apply a plan to the parsed TTGIR, compile it through Triton, load and bench it.

    lower(module, plan, kernel) -> TTModule    apply every choice of a Plan (eqsat/plan.py) to a parsed
                                               module (eqsat.lowering.apply; needs xdsl); choices are
                                               resolved against ops, in a canonical order, and
                                               `apply.lower_with_report` also says which choices an
                                               earlier one subsumed
    load(plan_dir) -> callable                 the optimized kernel, called with the original kernel's
                                               runtime arguments and grid (eqsat.lowering.loader; needs
                                               only triton and torch, so it runs on the GPU machines)

The two halves are imported lazily so that the GPU side never imports xdsl or egglog.
"""

from __future__ import annotations

from typing import Any


def lower(*args: Any, **kwargs: Any) -> Any:
    from eqsat.lowering.apply import lower as _lower

    return _lower(*args, **kwargs)


def load(*args: Any, **kwargs: Any) -> Any:
    from eqsat.lowering.loader import load as _load

    return _load(*args, **kwargs)
