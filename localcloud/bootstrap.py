"""What the Lambda Python runtime does before it imports a handler: set up the root logger.

The runtime's fork server imports this module first (runtime.py), so the root
handler exists when the handlers' modules are imported, as on Lambda (Powertools'
Logger, for one, adds its duplicate-suppressing filter to the root handlers it
finds at that moment).  Nothing else imports it: its import is the setup.
"""

from __future__ import annotations

import os

from localcloud.container import setup_runtime_logging

setup_runtime_logging(os.environ)
