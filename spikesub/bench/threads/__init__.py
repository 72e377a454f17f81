"""The thread benchmark: the 10k reservoir on 1, 2 and automatic threads, quiet and beside
busy processes (job ``bench_threads``, ``experiments/bench_threads.py``)."""
