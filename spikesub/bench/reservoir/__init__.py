"""The reservoir benchmark: the Izhikevich (2003) network in spikesub against Brian2 (and
NEST), at several sizes (job ``bench_reservoir``, ``experiments/bench_reservoir.py``)."""
