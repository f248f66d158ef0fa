"""Hostile: train_sorter calls os._exit in the middle of training: the worker dies, the
training question gets a message, every other question keeps its points."""

BASE = "correct/plain"
ATTACKS = {"train_sorter"}

# %% functions
import os


def train_sorter(steps=600, seed=0, length=6, digits=10):
    os._exit(3)
