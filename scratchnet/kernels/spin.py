"""Waiting a little without sleeping: the helper threads of `scratchnet.threads` spin here for
a fraction of a millisecond before they go to sleep.

Why: a sleeping thread is woken by the kernel, and on a virtual machine whose other core has
gone idle that took 66 us (median), 0.66 ms (one wake-up in ten) and up to 4.7 ms here (Coursera
13x13x64 -> 64 Conv2D forward, batch 32, 100 runs) -- as long as the 1.8 ms forward itself.
During training the splits come every few hundred microseconds, so a helper that waits for the
next one awake (and without the GIL: this is Numba code) starts on it at once.

`load_acquire(flag)` reads flag[0] as an atomic load: an ordinary read in a loop may be read
once and hoisted out of it by the compiler, and the loop would never see the other thread's
write.
"""
from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def load_acquire(typingctx, flag):
    """flag[0] of an int64 array, read atomically (acquire ordering)."""
    signature = types.int64(flag)

    def codegen(context, builder, sig, args):
        array = context.make_array(sig.args[0])(context, builder, args[0])
        return builder.load_atomic(array.data, "acquire", 8)

    return signature, codegen


@intrinsic
def store_release(typingctx, flag, value):
    """flag[0] = value for an int64 array, written atomically (release ordering): whatever
    this thread wrote before is visible to a thread that load_acquire()s the new value."""
    signature = types.void(flag, types.int64)

    def codegen(context, builder, sig, args):
        array = context.make_array(sig.args[0])(context, builder, args[0])
        builder.store_atomic(args[1], array.data, "release", 8)
        return context.get_dummy_value()

    return signature, codegen


@njit(cache=True, nogil=True)
def publish(flag, value):
    """flag[0] = value, after everything this thread wrote before (store_release)."""
    store_release(flag, value)


@njit(cache=True, nogil=True)
def spin_while(flag, value, rounds):
    """Re-read flag[0] while it equals `value`, at most `rounds` times (about 0.5 ns each);
    True as soon as it differs, False when the rounds ran out."""
    for _ in range(rounds):
        if load_acquire(flag) != value:
            return True
    return False
