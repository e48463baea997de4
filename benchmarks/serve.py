"""Serve one contender over HTTP (run as a child process by ``benchmarks.overhttp``).

``python -m benchmarks.serve NAME PORT RUN_ID``

ASGI contenders run under uvicorn with one worker; WSGI contenders under
waitress (4 threads) when it is installed, else werkzeug's threaded server.
Access logs are off: the benchmark measures the session layer, not logging.
"""

from __future__ import annotations

import sys

from .contenders import Env, by_name


def main(argv: list[str]) -> None:
    name, port_text, run_id = argv
    port = int(port_text)
    contender = by_name(name)
    built = contender.factory(Env(run_id=run_id))
    if contender.protocol == "asgi":
        import uvicorn

        uvicorn.run(
            built.app,
            host="127.0.0.1",
            port=port,
            workers=1,
            log_level="warning",
            access_log=False,
        )
        return
    try:
        import waitress
    except ImportError:
        from werkzeug.serving import run_simple

        run_simple("127.0.0.1", port, built.app, threaded=True)
        return
    waitress.serve(built.app, host="127.0.0.1", port=port, threads=4, _quiet=True)


if __name__ == "__main__":
    main(sys.argv[1:])
