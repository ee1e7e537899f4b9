"""Template tier fixtures: the unit tier's in-process AWS (moto) and API driver, reused.

The least-privilege and filter proofs run the same flows the unit tests run,
so they borrow those fixtures rather than keep a second copy that could drift.
"""

from tests.unit.conftest import api, aws, idp, issue, settings_env, signing_mode  # noqa: F401
