"""Hostile: write garbage into the worker's reply pipe (its fds are in sys.argv) to desynchronise
the protocol or crash the grader's reader: a frame length of 2**63 and bytes that are not JSON."""

BASE = "wrong/causal_strict"

# %% last
import os
import struct
import sys

reply_fd = int(sys.argv[-1])
os.write(reply_fd, struct.pack(">Q", 12) + b"\xff\xfe not json")
os.write(reply_fd, struct.pack(">Q", 1 << 63))
