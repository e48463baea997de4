"""A user module whose import fails: it reads a setting that is not there (for audit tests)."""

import os

SECRET = os.environ["SESSIONWARE_TEST_SETTING_THAT_IS_NEVER_SET"]
app = None
