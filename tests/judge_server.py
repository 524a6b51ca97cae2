"""A small OpenAI-compatible chat server on 127.0.0.1 for tests and benchmarks: scripted replies,
adjustable latency, injectable failures (429, 401, 500, malformed bodies) and a request log.

    with JudgeServer(responder, latency=0.1) as server:
        server.base_url   # "http://127.0.0.1:PORT/v1"
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    content: str = ""
    status: int = 200
    raw: str | None = None  # a body sent verbatim (e.g. not JSON at all)
    delay: float = 0.0
    prompt_tokens: int = 0  # 0: estimated from the request
    completion_tokens: int = 0


Responder = Callable[[dict[str, Any]], "Reply | str"]


class JudgeServer:
    def __init__(self, responder: Responder | None = None, *, latency: float = 0.0):
        self.responder = responder or (lambda request: "ok")
        self.latency = latency
        self.requests: list[dict[str, Any]] = []
        self.failures: list[Reply] = []  # served first, one per request, before the responder
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> JudgeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, *replies: Reply) -> None:
        with self._lock:
            self.failures.extend(replies)

    @property
    def n_requests(self) -> int:
        with self._lock:
            return len(self.requests)

    def _next_reply(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self.failures:
                return self.failures.pop(0)
        reply = self.responder(request)
        return Reply(content=reply) if isinstance(reply, str) else reply

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like a real server: clients reuse connections
            disable_nagle_algorithm = True  # headers and body go out at once, no delayed-ACK stalls

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                body["_authorization"] = self.headers.get("Authorization")
                reply = server._next_reply(body)
                time.sleep(server.latency + reply.delay)
                if reply.raw is not None:
                    payload = reply.raw.encode()
                elif reply.status != 200:
                    payload = json.dumps({"error": {"message": reply.content or f"status {reply.status}",
                                                    "type": "test_error", "code": reply.status}}).encode()
                else:
                    prompt = reply.prompt_tokens or sum(len(str(m.get("content", "")).split())
                                                        for m in body.get("messages", []))
                    completion = reply.completion_tokens or max(1, len(reply.content.split()))
                    payload = json.dumps({
                        "id": f"chatcmpl-{server.n_requests}", "object": "chat.completion", "created": 0,
                        "model": body.get("model", "judge"),
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": reply.content}}],
                        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                  "total_tokens": prompt + completion},
                    }).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                if reply.status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    self.wfile.write(payload)

        return Handler


def any_judge_responder() -> Responder:
    """Replies that satisfy every cstui judge: unique reasoning text, then one JSON object with all keys."""
    import itertools

    counter = itertools.count()
    verdict = json.dumps({
        "fabricated": False, "cited_claim": None, "grounded_in_retrieval": True, "addressed_need": True,
        "escalation_correct": True, "factual_accuracy": True, "citation_relevance": 4, "tone": 4, "completeness": 4,
        "query_understanding": True, "answer_correctness": True, "chat_efficiency": True,
        "client_satisfaction": True, "compliance": True, "rationale": "scripted",
    })

    def respond(request: dict[str, Any]) -> str:
        if request["messages"][0]["content"].startswith("You turn"):
            return verdict
        return f"Analysis #{next(counter)}: every claim is supported."

    return respond


if __name__ == "__main__":  # a standalone server for benchmarks: prints its base URL, serves until killed
    import argparse
    import sys

    ap = argparse.ArgumentParser(description="loopback OpenAI-compatible judge server")
    ap.add_argument("--latency", type=float, default=0.0)
    a = ap.parse_args()
    with JudgeServer(any_judge_responder(), latency=a.latency) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()  # until the parent closes our stdin
