"""``python -m scim_proxy``."""

import sys

from .cli import main

sys.exit(main())
