"""The cache of judge completions, keyed by model, prompt version, step and input."""

from __future__ import annotations

from typing import Any

from cstui.store.core import StoreBase, now_iso


class JudgeCacheMixin(StoreBase):
    """The cache of judge completions, keyed by model, prompt version, step and input."""

    def judge_cache_get(self, key: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT text, prompt_tokens, completion_tokens, cost_usd FROM judge_cache WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return {"text": row[0], "prompt_tokens": row[1] or 0, "completion_tokens": row[2] or 0, "cost_usd": row[3]}

    def judge_cache_put(self, key: str, model: str, prompt_version: str, step: str, completion: Any) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO judge_cache (key, model, prompt_version, step, text, prompt_tokens,"
            " completion_tokens, cost_usd, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (key, model, prompt_version, step, completion.text, completion.prompt_tokens,
             completion.completion_tokens, completion.cost_usd, now_iso()))
