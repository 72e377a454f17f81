"""The Izhikevich (2003) network in spikesub and in Brian2 on the same input (job
``crosscheck_brian2``, ``experiments/crosscheck_brian2.py``)."""
