"""Sandbox tests need the kernel's layers; they skip (saying what is missing) only when the
kernel really lacks them. The probe runs once per test session."""

from __future__ import annotations

import functools

import pytest

from sandbox import KernelSupport, probe


@functools.cache
def kernel() -> KernelSupport:
    return probe()


@pytest.fixture
def support() -> KernelSupport:
    k = kernel()
    if not k.can_run():
        pytest.skip(f"the kernel lacks sandbox layers: {k.refusal()}")
    return k
