"""Reservoir computing on spiking reservoirs: the standard benchmark tasks (memory capacity,
NARMA, Mackey-Glass), their generators and scores (:mod:`spikesub.rc.tasks`), and a reservoir
driven by a sampled signal and read by a readout (:mod:`spikesub.rc.model`)."""
