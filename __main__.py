"""``python -m hsi_blind_fusion``: the command line (see cli.py)."""
import sys

from hsi_blind_fusion.cli import main

sys.exit(main())
