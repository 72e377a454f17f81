"""Where the time of spikesub's MLP training step goes, kernel by kernel (job
``bench_snn_breakdown``, ``experiments/bench_snn_breakdown.py``)."""
