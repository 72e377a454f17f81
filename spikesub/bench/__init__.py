"""The benchmarks and cross-checks as jobs: one typed configuration and one ``run`` each.

=======================  ===============================================================
job                      what it measures
=======================  ===============================================================
``bench_reservoir``      the Izhikevich (2003) reservoir in spikesub, Brian2 (and NEST)
``bench_threads``        the 10k reservoir on 1, 2 and automatic threads, quiet and loaded
``bench_snn``            training spiking networks: snnTorch, SpikingJelly, spikesub
``bench_snn_breakdown``  spikesub's MLP training step, kernel by kernel
``bench_snntorch_swap``  snnTorch's per-step loop with its own Leaky and after the swap
``crosscheck_brian2``    the Izhikevich network in spikesub and Brian2 on the same input
=======================  ===============================================================

Each lives in ``spikesub.bench.<name>`` (``config``, ``run``, ``cli``, ``figures`` where it
draws any), is registered in :data:`spikesub.jobs.JOBS` and has a thin script under
``experiments/``. The timing benchmarks (all but the cross-check) measure the machine: never
run two of their trials at once (a sweep over them takes ``--max-parallel 1``).
"""
