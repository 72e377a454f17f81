"""snnTorch's per-step training loop with its own ``Leaky`` and after ``swap_snntorch_leaky``
(job ``bench_snntorch_swap``, ``experiments/bench_snntorch_swap.py``)."""
