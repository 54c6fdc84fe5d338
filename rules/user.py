"""Rule families from outside the package, and which rules a run uses.

    RuleSelection(sources=(PATH.py | module, ...), only=(FAMILY | RULE, ...), disable=(...))
    selected_families(selection) -> [RuleFamily]    built-in families (phase order), then the families of
                                                    installed packages (entry-point group `eqsat.rules`),
                                                    then those of `sources`; each filtered by only/disable
    ruleset_hash(selection) -> 16 hex digits        the built-in rules' code hash, the source text of
                                                    every user family, and the selection: recorded in
                                                    plan.json and run.json, part of the result-cache key
    load_source(spec) -> [RuleFamily]               one user file or module (cached per process)

A user module (a file given with `--rules mine.py`, an importable module name, or the target of an
`eqsat.rules` entry point) defines

    FAMILY = "mine"                  the family name (not a built-in one); every rule is named "mine.<rule>"
    RULES = [Rule(...), ...]         eqsat.rules.Rule: doc, preconditions, soundness, check, egg_rules
    def seed(egraph, encoded, model) the facts its rules need (may do nothing)
    AFTER = "gather"                 optional: the built-in family it runs after (default: after all)

and its rules plug into the same registry, phases, plan choices and soundness obligations as the
built-in ones. Everything wrong with a user module (it does not import, lacks RULES, a rule misnamed, an
unknown soundness kind or plan choice, egglog rules not named after their rule) is one EqsatError line
naming the file; a family of an installed package that fails to load is skipped with a warning on
stderr, so a broken package never affects a run that did not name it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from eqsat.rules import FAMILY_ORDER, SOUNDNESS_KINDS, Rule, RuleFamily, builtin_families, family_ruleset

from eqsat.errors import EqsatError

ENTRY_POINT_GROUP = "eqsat.rules"
PLAN_CHOICES = ("", "shared_encoding", "convert_path", "load_layout", "gather_strategy", "staging")


@dataclass(frozen=True)
class RuleSelection:
    sources: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()
    entry_points: bool = True

    @property
    def is_default(self) -> bool:
        return not (self.sources or self.only or self.disable)


def _import(spec: str) -> tuple[Any, str]:
    """The module `spec` names (a .py path or a module name) and the file it came from."""
    path = Path(spec)
    if spec.endswith(".py") or path.exists():
        if not path.is_file():
            raise EqsatError("no such rule file", spec)
        name = f"eqsat_user_rules_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:10]}"
        loader_spec = importlib.util.spec_from_file_location(name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise EqsatError("cannot load this file as Python", spec)
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module
        try:
            loader_spec.loader.exec_module(module)
        except SyntaxError as e:
            sys.modules.pop(name, None)
            raise EqsatError(f"syntax error: {e.msg}", spec, e.lineno, e.offset) from None
        except EqsatError:
            sys.modules.pop(name, None)
            raise
        except Exception as e:  # noqa: BLE001 - the user's module failing is the user's one line
            sys.modules.pop(name, None)
            message = " ".join(str(e).split())
            raise EqsatError(f"importing the rule file failed: {type(e).__name__}: {message}", spec,
                             _user_line(e, path)) from None
        return module, str(path.resolve())
    try:
        module = importlib.import_module(spec)
    except ModuleNotFoundError as e:
        raise EqsatError(f"no rule file or module '{spec}' ({e.msg})") from None
    except Exception as e:  # noqa: BLE001
        raise EqsatError(f"importing rule module '{spec}' failed: {type(e).__name__}: "
                         f"{' '.join(str(e).split())}") from None
    return module, str(getattr(module, "__file__", spec))


def _user_line(e: BaseException, path: Path) -> int | None:
    tb = e.__traceback__
    line = None
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).resolve() == path.resolve():
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def family_of(module: Any, where: str) -> RuleFamily:
    """Validate a user module and make its RuleFamily; one line naming `where` for anything wrong."""
    name = getattr(module, "FAMILY", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise EqsatError("a rule module defines FAMILY = \"<name>\" (a Python identifier)", where)
    if name in FAMILY_ORDER:
        raise EqsatError(f"FAMILY '{name}' is a built-in family; choose another name", where)
    rules = getattr(module, "RULES", None)
    if not isinstance(rules, list | tuple) or not rules or not all(isinstance(r, Rule) for r in rules):
        raise EqsatError("a rule module defines RULES = [eqsat.rules.Rule(...), ...] (at least one)", where)
    seed = getattr(module, "seed", None)
    if not callable(seed):
        raise EqsatError("a rule module defines seed(egraph, encoded, model) (it may do nothing)", where)
    after = getattr(module, "AFTER", None)
    if after is not None and after not in FAMILY_ORDER:
        raise EqsatError(f"AFTER = '{after}' is not a built-in family ({', '.join(FAMILY_ORDER)})", where)
    for r in rules:
        if r.family != name:
            raise EqsatError(f"rule {r.name}: its family is '{r.family}', not this module's '{name}'", where)
        if r.soundness not in SOUNDNESS_KINDS:
            raise EqsatError(f"rule {r.name}: soundness '{r.soundness}' is not one of "
                             f"{', '.join(SOUNDNESS_KINDS)}", where)
        if r.plan_choice not in PLAN_CHOICES:
            raise EqsatError(f"rule {r.name}: plan_choice '{r.plan_choice}' is not one of "
                             f"{', '.join(c for c in PLAN_CHOICES if c)}", where)
        if not r.egg_rules:
            raise EqsatError(f"rule {r.name}: egg_rules is empty (nothing would ever fire)", where)
        for egg in r.egg_rules:
            egg_name = getattr(egg, "name", None) or getattr(getattr(egg, "__egg_decl__", None), "name", None)
            if egg_name is not None and egg_name.split("#", 1)[0] != r.name:
                raise EqsatError(f"rule {r.name}: egglog rule '{egg_name}' must be named '{r.name}' or "
                                 f"'{r.name}#<variant>' (eqsat.rules.egg_name)", where)
        if not callable(r.check):
            raise EqsatError(f"rule {r.name}: check must be callable check(seed)", where)
    fam = RuleFamily(name, list(rules), family_ruleset(name, list(rules)), seed)
    fam.after = after  # type: ignore[attr-defined]
    fam.source = where  # type: ignore[attr-defined]
    return fam


@cache
def load_source(spec: str) -> tuple[RuleFamily, str]:
    """(family, the source text it came from) of one user file or module."""
    module, where = _import(spec)
    try:
        text = Path(where).read_text()
    except OSError:
        text = where
    return family_of(module, spec), text


@cache
def installed_families() -> tuple[tuple[RuleFamily, str], ...]:
    """Families of installed packages (entry-point group `eqsat.rules`); a broken one is skipped."""
    out = []
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            module = ep.load()
            fam = family_of(module, f"entry point {ep.name} ({ep.value})")
            source = getattr(module, "__file__", None)
            out.append((fam, Path(source).read_text() if source else ep.value))
        except EqsatError as e:
            print(f"warning: rule family skipped: {e}", file=sys.stderr)
        except Exception as e:  # noqa: BLE001 - a broken installed package must not stop eqsat
            print(f"warning: rule family skipped: entry point {ep.name} ({ep.value}): "
                  f"{type(e).__name__}: {' '.join(str(e).split())}", file=sys.stderr)
    return tuple(out)


def _user_families(selection: RuleSelection) -> list[tuple[RuleFamily, str]]:
    fams = list(installed_families()) if selection.entry_points else []
    fams += [load_source(s) for s in selection.sources]
    names = [f.name for f, _ in fams]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise EqsatError(f"two rule families are named '{dup[0]}' (each user family needs its own FAMILY)")
    return fams


def _filtered(fam: RuleFamily, selection: RuleSelection) -> RuleFamily | None:
    def picked(rule: Rule, names: tuple[str, ...]) -> bool:
        return rule.name in names or rule.family in names

    rules = [r for r in fam.rules if (not selection.only or picked(r, selection.only))
             and not picked(r, selection.disable)]
    if not rules:
        return None
    if rules == fam.rules:
        return fam
    out = RuleFamily(fam.name, rules, family_ruleset(fam.name, rules), fam.seed)
    for attr in ("after", "source"):
        if hasattr(fam, attr):
            setattr(out, attr, getattr(fam, attr))
    return out


def selected_families(selection: RuleSelection | None = None) -> list[RuleFamily]:
    sel = selection or RuleSelection()
    builtin = builtin_families()
    users = [f for f, _ in _user_families(sel)]
    known = {f.name for f in builtin + users} | {r.name for f in builtin + users for r in f.rules}
    for name in sel.only + sel.disable:
        if name not in known:
            raise EqsatError(f"no rule or family named '{name}' (see `eqsat rules list`)")
    ordered: list[RuleFamily] = []
    for fam in builtin:
        ordered.append(fam)
        ordered += [u for u in users if getattr(u, "after", None) == fam.name]
    ordered += [u for u in users if getattr(u, "after", None) is None]
    return [f for f in (_filtered(f, sel) for f in ordered) if f is not None]


def ruleset_hash(selection: RuleSelection | None = None) -> str:
    from eqsat.versions import versions

    sel = selection or RuleSelection()
    h = hashlib.sha256(str(versions()["rules"]).encode())
    for fam, text in sorted(_user_families(sel), key=lambda ft: ft[0].name):
        h.update(f"\0{fam.name}\0".encode() + text.encode())
    h.update(repr((sorted(sel.only), sorted(sel.disable))).encode())
    return h.hexdigest()[:16]
