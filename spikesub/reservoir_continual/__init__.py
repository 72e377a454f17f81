"""Continual learning of a spiking reservoir's readout with local rules (``spikesub
reservoir-continual``): a three-factor readout learns a sequence of cue tasks on one fixed
reservoir, its eligibility projected out of the old tasks' trace subspace, which a lateral
Hebbian circuit (HLOP) or an exact SVD basis (GPM) provides."""
