"""CPU instructions that Numba does not expose: cache prefetch, atomics, spin-wait hints.

Each is a Numba intrinsic that emits one LLVM instruction (through llvmlite, Numba's own code
generator) and can be called from ``@njit`` code, cached or not:

* :func:`prefetch_numba` asks for the cache line of an array element (a hint: it never changes
  a result);
* :func:`atomic_add_numba`, :func:`atomic_load_numba` and :func:`atomic_store_numba` act on one
  element of an integer array, so that threads can count and signal to each other
  (sequentially consistent addition, acquire load, release store: what one thread wrote before
  a release store or an addition is visible to a thread that has read the value after it);
* :func:`spin_pause_numba` tells the core that the thread is spinning (``pause`` on x86-64,
  ``yield`` on ARM64, nothing elsewhere), :func:`yield_thread_numba` gives the thread's core to
  another runnable thread (``sched_yield``; nothing on Windows).

Indices are not bounds-checked.
"""

from __future__ import annotations

import platform
import sys

from llvmlite import ir
from numba import njit
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import intrinsic

_I32 = ir.IntType(32)
_MACHINE = platform.machine().lower()


def _element_pointer(context, builder, array_type, array, index):
    ary = context.make_array(array_type)(context, builder, array)
    return cgutils.get_item_pointer(context, builder, array_type, ary, [index], wraparound=False)


@intrinsic
def prefetch_numba(typingctx, array, index):
    """Fetch the cache line of ``array[index]`` into the cache (read, high temporal locality)."""
    sig = types.void(array, index)

    def codegen(context, builder, signature, args):
        ptr = _element_pointer(context, builder, signature.args[0], args[0], args[1])
        byte_ptr = builder.bitcast(ptr, ir.IntType(8).as_pointer())
        fnty = ir.FunctionType(ir.VoidType(), [byte_ptr.type, _I32, _I32, _I32])
        fn = builder.module.declare_intrinsic("llvm.prefetch", [byte_ptr.type], fnty)
        builder.call(fn, [byte_ptr, _I32(0), _I32(3), _I32(1)])
        return context.get_dummy_value()

    return sig, codegen


def _check_integer_array(name, array):
    if not (isinstance(array, types.Array) and isinstance(array.dtype, types.Integer)):
        raise TypingError(f"{name} needs an integer array; got {array}")


@intrinsic
def atomic_add_numba(typingctx, array, index, value):
    """``array[index] += value`` as one atomic read-modify-write; returns the old value."""
    _check_integer_array("atomic_add_numba", array)
    sig = array.dtype(array, index, value)

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        ptr = _element_pointer(context, builder, array_type, args[0], args[1])
        val = context.cast(builder, args[2], signature.args[2], array_type.dtype)
        return builder.atomic_rmw("add", ptr, val, "seq_cst")

    return sig, codegen


@intrinsic
def atomic_load_numba(typingctx, array, index):
    """``array[index]``, read atomically with acquire ordering."""
    _check_integer_array("atomic_load_numba", array)
    sig = array.dtype(array, index)

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        ptr = _element_pointer(context, builder, array_type, args[0], args[1])
        align = context.get_abi_sizeof(context.get_value_type(array_type.dtype))
        return builder.load_atomic(ptr, "acquire", align)

    return sig, codegen


@intrinsic
def atomic_store_numba(typingctx, array, index, value):
    """``array[index] = value``, written atomically with release ordering."""
    _check_integer_array("atomic_store_numba", array)
    sig = types.void(array, index, value)

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        ptr = _element_pointer(context, builder, array_type, args[0], args[1])
        val = context.cast(builder, args[2], signature.args[2], array_type.dtype)
        align = context.get_abi_sizeof(context.get_value_type(array_type.dtype))
        builder.store_atomic(val, ptr, "release", align)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def spin_pause_numba(typingctx):
    """A spin-wait hint to the core (lets the other hardware thread run, saves power)."""
    sig = types.void()

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.VoidType(), [])
        if _MACHINE in ("x86_64", "amd64", "i386", "i686"):
            builder.call(builder.module.declare_intrinsic("llvm.x86.sse2.pause", (), fnty), [])
        elif _MACHINE in ("aarch64", "arm64"):
            fnty = ir.FunctionType(ir.VoidType(), [_I32])
            hint = builder.module.declare_intrinsic("llvm.aarch64.hint", (), fnty)
            builder.call(hint, [_I32(1)])  # YIELD
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def yield_thread_numba(typingctx):
    """``sched_yield()``: let another runnable thread have this core (nothing on Windows)."""
    sig = types.void()

    def codegen(context, builder, signature, args):
        if sys.platform != "win32":
            fnty = ir.FunctionType(_I32, [])
            fn = cgutils.get_or_insert_function(builder.module, fnty, "sched_yield")
            builder.call(fn, [])
        return context.get_dummy_value()

    return sig, codegen


# Spins on the core before each yield of the thread while waiting (a pause takes some tens of
# cycles, so a wait yields after a few microseconds).
_SPINS_BEFORE_YIELD = 256


@njit(inline="always", cache=True)
def wait_until_at_least_numba(array, index, target):
    """Spin until ``array[index] >= target`` (atomic loads); after :data:`_SPINS_BEFORE_YIELD`
    spins each further check yields the thread, so a waiting thread leaves its core to the one
    it waits for when there are more threads than cores."""
    spins = 0
    while atomic_load_numba(array, index) < target:
        if spins < _SPINS_BEFORE_YIELD:
            spin_pause_numba()
            spins += 1
        else:
            yield_thread_numba()
