"""The ``sessionware`` command: demo, keygen, sessions, cleanup, audit.

Every subcommand has ``--help``.  Exit codes: 0 done, 1 the operation failed
(store unreachable, nothing to revoke, audit found a failing item), 2 bad
arguments.  Errors are one line on stderr, never a traceback (set
``SESSIONWARE_DEBUG=1`` to see one).

``--backend`` takes a store URL (``sqlite:///sessions.db``, ``redis://...``,
``postgresql://...``) or ``module:attribute`` naming a backend object (or a
zero-argument factory) in your code.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import NoReturn

from .. import __version__
from ..config import SessionConfig
from ..errors import BackendError, MissingExtra, SessionwareError
from ..manager import SessionManager
from .audit import audit, find_config
from .targets import Failure, Usage, check_store, load_object, open_backend, redact
from .targets import reach as _store

__all__ = ["main"]


def _missing(extra: str, package: str, cause: ImportError) -> str:
    """The :class:`MissingExtra` message, with the import error that caused it."""
    missing = MissingExtra(extra, package)
    missing.__cause__ = cause
    return str(missing)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


# -- commands ------------------------------------------------------------------------


def cmd_keygen(args: argparse.Namespace) -> int:
    if not args.eddsa:
        print(secrets.token_urlsafe(48))
        return 0
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError as exc:
        raise Failure(_missing("jwt", "cryptography", exc)) from exc
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    sys.stdout.write(private.decode() + public.decode())
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    manager = SessionManager(open_backend(args.backend))
    sessions = _store(args.backend, lambda: manager.list_sessions(args.user))
    if args.json:
        print(json.dumps([asdict(s) for s in sessions], indent=2))
        return 0
    if not sessions:
        print(f"no live sessions for user {args.user!r}")
        return 0
    print(
        f"{'HANDLE':<24} {'CREATED (UTC)':<19}  {'LAST ACTIVE':<19}  {'EXPIRES':<19}  "
        f"{'KIND':<6} {'REMEMBER':<8} {'ADDRESS':<15} DEVICE"
    )
    for s in sessions:
        print(
            f"{s.handle:<24} {_when(s.created_at)}  {_when(s.last_active)}  "
            f"{_when(s.expires_at)}  {s.kind:<6} {'yes' if s.remember else 'no':<8} "
            f"{s.ip or '-':<15} {s.agent or '-'}"
        )
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    if (args.handle is None) == (args.user is None):
        raise Usage("give either a HANDLE or --user USER")
    if args.keep and args.user is None:
        raise Usage("--keep only goes with --user")
    manager = SessionManager(open_backend(args.backend))
    if args.handle is not None:
        if not _store(args.backend, lambda: manager.revoke(args.handle)):
            raise Failure(f"no live session with handle {args.handle!r}")
        print(f"revoked session {args.handle}")
        return 0
    count = _store(args.backend, lambda: manager.revoke_user(args.user, keep=args.keep))
    print(f"revoked {count} session{'s' if count != 1 else ''} of user {args.user!r}")
    return 0


def cmd_cleanup(args: argparse.Namespace) -> int:
    backend = open_backend(args.backend)
    purge = getattr(backend, "purge_expired", None)
    sweep = getattr(backend, "sweep", None)
    if callable(purge):
        removed = _store(args.backend, lambda: purge(limit=args.limit))
    elif callable(sweep):
        removed = _store(args.backend, lambda: sweep(time.time()))
    else:
        print(f"nothing to do: {type(backend).__name__} expires records by itself")
        return 0
    print(f"removed {removed} expired session record{'s' if removed != 1 else ''}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Measure sessionware's per-request cost on this machine with the given store.

    Peer comparisons (starsessions, Flask-Session...) live in the repository's
    ``benchmarks/`` (``python -m benchmarks``); this one needs only the package.
    """
    from . import bench

    backend = open_backend(args.backend, shared=False)
    check_store(backend, args.backend)
    faces = ("asgi", "wsgi") if args.face == "both" else (args.face,)
    try:
        results = bench.run(backend, faces=faces, rounds=args.rounds, batch=args.batch)
    except (BackendError, RuntimeError) as exc:
        raise Failure(f"{redact(args.backend)}: {exc}") from exc
    name = redact(args.backend)
    print(bench.format_table(results, name))
    if args.plot:
        try:
            bench.plot(results, args.plot, name)
        except ImportError as exc:
            raise Failure("--plot needs matplotlib: pip install matplotlib") from exc
        print(f"chart written to {args.plot}")
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError as exc:
        raise Failure(_missing("cli", "uvicorn", exc)) from exc
    from .demo import create_app

    backend = open_backend(args.backend, shared=False) if args.backend else None
    if backend is not None:
        check_store(backend, args.backend)
    secret = os.environ.get("SESSIONWARE_SECRET_KEY")
    if secret is None and args.backend not in (None, "memory", "memory://"):
        print(
            "note: no SESSIONWARE_SECRET_KEY set; a random key is used, so stored sessions "
            "will not survive a restart",
            file=sys.stderr,
        )
    app = create_app(backend, secret_keys=[secret] if secret else None, dev_http=args.dev_http)
    with socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET) as probe:
        try:
            probe.bind((args.host, args.port))
        except OSError as exc:
            raise Failure(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from exc
    loopback = args.host in ("127.0.0.1", "localhost", "::1")
    shown = "localhost" if loopback else args.host
    if not loopback and not args.dev_http:
        print(
            "note: browsers only accept the Secure cookie over plain HTTP on localhost; "
            "use HTTPS in front, or --dev-http",
            file=sys.stderr,
        )
    print(f"sessionware demo on http://{shown}:{args.port}  (Ctrl+C to stop)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    config, backend = _audit_target(args)
    findings = audit(config, level=args.level, backend=backend)
    print(f"sessionware audit: cookie {config.cookie_name}, ASVS level {args.level}")
    for f in findings:
        print(f"{f.status:<5} {f.ids:<26} {f.message}")
        if f.advice and f.status != "PASS":
            print(f"{'':<32}-> {f.advice}")
    counts = {s: sum(f.status == s for f in findings) for s in ("PASS", "WARN", "FAIL", "INFO")}
    print(
        f"{counts['PASS']} passed, {counts['WARN']} warnings, {counts['FAIL']} failed, "
        f"{counts['INFO']} notes"
    )
    failed = counts["FAIL"] or (args.strict and counts["WARN"])
    return 1 if failed else 0


def _audit_target(args: argparse.Namespace) -> tuple[SessionConfig, str | None]:
    flags = {k: v for k, v in vars(args).items() if k.startswith("cfg_") and v is not None}
    overrides = {k[4:]: v for k, v in flags.items()}
    if args.target:
        try:
            config, backend = find_config(load_object(args.target))
        except LookupError as exc:
            raise Usage(
                f"{args.target}: {exc} (expected a SessionConfig, middleware or app)"
            ) from exc
        return (replace(config, **overrides) if overrides else config), backend
    secret = os.environ.get(args.secret_env) if args.secret_env else None
    if args.secret_env and not secret:
        raise Usage(f"environment variable {args.secret_env} is empty or unset")
    try:
        return SessionConfig(secret_keys=[secret or secrets.token_urlsafe(48)], **overrides), None
    except SessionwareError as exc:
        raise Failure(f"invalid configuration: {exc}") from exc


# -- parser --------------------------------------------------------------------------


def add_audit_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target", nargs="?", metavar="MODULE:ATTRIBUTE", help="config, middleware or app to audit"
    )
    parser.add_argument("--level", type=int, choices=(1, 2, 3), default=2, help="ASVS level")
    parser.add_argument("--strict", action="store_true", help="warnings fail too")
    parser.add_argument("--secret-env", metavar="VAR", help="check the secret in $VAR")
    flags = parser.add_argument_group("configuration flags (override or replace the target)")
    add = flags.add_argument
    add("--cookie-name", dest="cfg_cookie_name", metavar="NAME")
    add("--insecure", dest="cfg_secure", action="store_const", const=False, help="secure=False")
    add("--no-http-only", dest="cfg_http_only", action="store_const", const=False)
    add("--same-site", dest="cfg_same_site", choices=("lax", "strict", "none"))
    add("--domain", dest="cfg_domain")
    add("--path", dest="cfg_path")
    for name in ("idle", "absolute", "remember", "remember-absolute"):
        add(
            f"--{name}-timeout",
            dest=f"cfg_{name.replace('-', '_')}_timeout",
            type=float,
            metavar="SECONDS",
        )
    add("--renew-interval", dest="cfg_renew_interval", type=float, metavar="SECONDS")
    add("--url-id-policy", dest="cfg_url_id_policy", choices=("reject", "ignore"))
    add("--binding", dest="cfg_binding", choices=("off", "log", "revoke"))
    add("--max-sessions-per-user", dest="cfg_max_sessions_per_user", type=int, metavar="N")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sessionware", description="Hardened server-side sessions: tools.")
    parser.add_argument("--version", action="version", version=f"sessionware {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="serve the demo app", description="Serve the demo app.")
    demo.add_argument("--backend", metavar="URL", help="session store (default: memory)")
    demo.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    demo.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    demo.add_argument(
        "--dev-http",
        action="store_true",
        help="plain-HTTP cookie 'session' without Secure (for Safari or non-localhost hosts)",
    )
    demo.set_defaults(func=cmd_demo)

    keygen = sub.add_parser(
        "keygen", help="print a new random secret", description="Print a new random secret."
    )
    keygen.add_argument("--eddsa", action="store_true", help="print an Ed25519 PEM key pair")
    keygen.set_defaults(func=cmd_keygen)

    sessions = sub.add_parser("sessions", help="list or revoke a user's sessions")
    ssub = sessions.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = ssub.add_parser("list", help="list a user's live sessions")
    listing.add_argument("user", metavar="USER")
    listing.add_argument("--backend", required=True, metavar="URL")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=cmd_list)
    revoke = ssub.add_parser("revoke", help="end one session, or all of a user's")
    revoke.add_argument("handle", nargs="?", metavar="HANDLE", help="the session's handle")
    revoke.add_argument("--user", metavar="USER", help="revoke every session of USER")
    revoke.add_argument("--keep", metavar="HANDLE", help="with --user: spare this session")
    revoke.add_argument("--backend", required=True, metavar="URL")
    revoke.set_defaults(func=cmd_revoke)

    cleanup = sub.add_parser("cleanup", help="delete expired sessions now")
    cleanup.add_argument("--backend", required=True, metavar="URL")
    cleanup.add_argument("--limit", type=int, metavar="N", help="delete at most N (SQL stores)")
    cleanup.set_defaults(func=cmd_cleanup)

    bench = sub.add_parser(
        "bench",
        help="measure sessionware's per-request cost with your store",
        description="Time a read, a write and an untouched request through sessionware "
        "against the same app without it, in one run on this machine, and print the "
        "overhead per request (peer comparisons: python -m benchmarks in the repository).",
    )
    bench.add_argument("--backend", default="memory://", metavar="URL", help="store URL")
    bench.add_argument("--face", choices=("asgi", "wsgi", "both"), default="both")
    bench.add_argument("--rounds", type=_positive, default=30, metavar="N")
    bench.add_argument("--batch", type=_positive, default=100, metavar="N")
    bench.add_argument("--plot", metavar="PNG", help="also write a bar chart (needs matplotlib)")
    bench.set_defaults(func=cmd_bench)

    audit_ = sub.add_parser(
        "audit",
        help="check a configuration against OWASP ASVS",
        description="Check a configuration against OWASP ASVS; exit 1 on a failing item.",
    )
    add_audit_flags(audit_)
    audit_.set_defaults(func=cmd_audit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except Usage as exc:
        print(f"sessionware: error: {exc}", file=sys.stderr)
        return 2
    except (Failure, SessionwareError) as exc:
        print(f"sessionware: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("SESSIONWARE_DEBUG"):
            raise
        print(f"sessionware: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
