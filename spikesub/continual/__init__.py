"""Continual learning for spiking networks: lateral Hebbian subspaces and orthogonal projection."""
