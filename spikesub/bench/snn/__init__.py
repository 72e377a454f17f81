"""The SNN training benchmark: snnTorch, SpikingJelly and spikesub layers on the same MLP and
Linear+LIF workloads (job ``bench_snn``, ``experiments/bench_snn.py``)."""
