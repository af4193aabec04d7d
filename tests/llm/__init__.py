"""Tests of the language-model providers and role assignment."""

import os

# llama.cpp's OpenMP threads spin while they wait; with two xdist workers (or anything else) on a
# 2-core machine the spinning threads starve each other and a 16-token reply takes 5x longer.
# libgomp reads this when llama_cpp is first imported, which happens lazily, after this.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
