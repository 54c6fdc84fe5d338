"""staging rules (placeholder module while the family is written)."""

from typing import Any

RULES: list = []


def seed(egraph: Any, encoded: Any, model: Any) -> None:
    return None
