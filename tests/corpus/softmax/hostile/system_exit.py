"""Hostile: `raise SystemExit`, exit(), sys.exit() and quit() in cells: each cell just fails."""

BASE = "correct/plain"

# %% first
raise SystemExit

# %% last
import sys

sys.exit(3)

# %% last
exit()

# %% last
quit()
