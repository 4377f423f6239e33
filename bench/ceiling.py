"""The ceiling of the stack: Python HTTP endpoints that do nothing but read the body.

`bench.intake` loads these with the same wrk scripts as warroom's intake, to show how many
requests a second any intake written on uvicorn (and on FastAPI) can reach on this machine
before it stores anything.

    python -m bench.ceiling raw|fastapi PORT
"""

from __future__ import annotations

import sys
from typing import Any

# At module level: with postponed annotations FastAPI resolves `request: Request` in the
# module's globals; imported inside the app's function, `request` became a required query
# parameter and every request was a 422 that never read the body.
from fastapi import FastAPI, Request


async def raw_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A bare ASGI app: read the whole body, answer 200 with a small JSON body."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"accepted":1}'})


def fastapi_app() -> Any:
    """A FastAPI route that reads the raw body and answers: FastAPI's own cost, nothing more."""
    app = FastAPI()

    @app.post("/{path:path}")
    async def intake(request: Request) -> dict[str, int]:
        await request.body()
        return {"accepted": 1}

    return app


def main(argv: list[str]) -> None:
    """Serve one of the two apps on 127.0.0.1:PORT (one process, as warroom serve)."""
    import uvicorn

    kind, port = argv[0], int(argv[1])
    app = raw_app if kind == "raw" else fastapi_app()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main(sys.argv[1:])
