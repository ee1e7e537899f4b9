# First, before any handler module imports Powertools: its event_handler package, lean (docs/performance.md).
import qrlogin.lean_imports  # noqa: F401
