"""Hostile: allocate memory until it fails (the address-space limit turns it into MemoryError)."""

BASE = "correct/plain"

# %% last
def hog():
    chunks = []
    while True:
        chunks.append(bytearray(64 << 20))


hog()
